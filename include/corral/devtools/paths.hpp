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

#include "corral/server/http_message.hpp"
#include "corral/util/error.hpp"

namespace corral {

inline constexpr std::string_view kDevToolsPrefix = "/cdp/";

/// A request target under a session's base, split.
struct DevToolsTarget {
  std::string session_id;
  std::string secret;
  std::string rest;  ///< what the browser gets: "/json/version", "/devtools/page/ID?x", or "/"
};

/// nullopt unless `target` is "/cdp/<12 hex>/<32 hex>[/rest][?query]".
std::optional<DevToolsTarget> parse_devtools_target(std::string_view target);

/// "/cdp/<id>/<secret>"
std::string devtools_base_path(const std::string& session_id, const std::string& secret);

/// Where clients reach corral: "http://10.0.0.1:8420" from a request's Host,
/// or --public-url ("https://corral.example/prefix"), without a trailing '/'.
struct PublicBase {
  std::string scheme;     ///< "http" or "https"
  std::string authority;  ///< "host:port"
  std::string prefix;     ///< a path a proxy in front adds: "" or "/corral"

  std::string http_url(std::string_view path) const { return scheme + "://" + authority + prefix + std::string(path); }
  /// The same place as a WebSocket URL: ws:// for http, wss:// for https.
  std::string ws_url(std::string_view path) const {
    return (scheme == "https" ? "wss://" : "ws://") + authority + prefix + std::string(path);
  }
};

/// Check and split --public-url: http(s)://host[:port][/prefix], nothing else.
Result<PublicBase> parse_public_url(std::string_view url);

/// The base for an answer to a request that came with this Host (already
/// allowed by the request guard) over plain HTTP.
PublicBase public_base_from_host(std::string_view host);

/// How corrald itself is reached, for the URLs it hands out.
struct PublicAddressing {
  std::optional<PublicBase> public_url;  ///< --public-url: a proxy in front decides
  bool unix_listener = false;            ///< no URL to hand out: clients are local

  /// The base for an answer to a request with this Host (already allowed by
  /// the request guard); nullopt on a unix socket, or with no Host at all.
  std::optional<PublicBase> base_for(std::optional<std::string_view> host) const;
  /// base_for the Host of this request.
  std::optional<PublicBase> base_for(const HttpRequest& request) const;
};

/// The path of a URL ("ws://127.0.0.1:9222/devtools/browser/x" gives
/// "/devtools/browser/x"); "/" when it has none.
std::string url_path(std::string_view url);
/// The port of "http://127.0.0.1:PORT"; 0 if there is none.
uint16_t url_port(std::string_view url);

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
