// Where a session's DevTools are on corral's own address, and how Chrome's
// answers are made to point there.
//
// A session's base is /cdp/<id>/<secret>: everything below it goes to that
// session's browser with the base taken off (/cdp/<id>/<secret>/json/version
// is the browser's /json/version). The secret (SessionInfo::access_secret)
// stands in for the API token, so a URL that a client logs opens one
// session and nothing else. Chrome names itself (127.0.0.1:<its port>) in
// the WebSocket URLs of its /json answers; those are rewritten to the base
// on corral's address as the client reached it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "corral/api/public_address.hpp"
#include "corral/util/error.hpp"
#include "corral/util/url.hpp"

namespace corral {

/// A request target under a session's base, split.
struct DevToolsTarget {
  std::string session_id;
  std::string secret;
  std::string rest;  ///< what the browser gets: "/json/version", "/devtools/page/ID?x", or "/"
};

/// nullopt unless `target` is "/cdp/<12 hex>/<32 hex>[/rest][?query]".
std::optional<DevToolsTarget> parse_devtools_target(std::string_view target);

/// Chrome's /json/version, /json/list (or /json), /json/new answer with
/// every "ws://127.0.0.1:<port>/devtools/..." (webSocketDebuggerUrl) and
/// every "ws=127.0.0.1:<port>/devtools/..." in a DevTools frontend URL
/// pointed at `base` + `session_path`. Bodies that are not JSON come back
/// unchanged. EBADMSG: a body with a WebSocket URL of another host or port,
/// or JSON beyond parse_json_bounded's limits (deeper than 64 levels, more
/// than 100,000 values).
Result<std::string> rewrite_devtools_json(std::string_view body, uint16_t browser_port, const PublicBase& base,
                                          const std::string& session_path);

}  // namespace corral
