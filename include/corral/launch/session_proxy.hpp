// A session's upstream proxy across corrald's restarts: the URL with its
// credential in a kernel key (proxy_keys.hpp), and beside the session's
// files a marker, "upstream-proxy", holding the URL redacted, so that a
// session whose key is gone is adopted with no way out at all rather than
// one that goes straight out around its proxy.
#pragma once

#include <optional>
#include <string>

#include "corral/egress/upstream_proxy.hpp"
#include "corral/launch/session_dirs.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// At spawn, before the browser runs. A key that cannot be kept (keyrings
/// filtered by a container) is a warning: the session works until corrald
/// restarts, and is then adopted without a way out.
Result<void> remember_session_proxy(const SessionDirs& dirs, const std::string& session_id, const UpstreamProxy& proxy);
/// At adoption: nullopt for a session that had no proxy; an error for one
/// that had one whose key is gone or unreadable.
Result<std::optional<UpstreamProxy>> recall_session_proxy(const SessionDirs& dirs, const std::string& session_id);
/// When the session's files go: its key goes too.
void forget_session_proxy(const std::string& session_id);

}  // namespace corral
