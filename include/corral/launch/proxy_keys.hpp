// A proxied session's proxy URL, credential included, kept over corrald's
// restart (kill -9, an upgrade) without a file that holds it in clear: a
// kernel key of type "user", "corral-proxy:<session id>", in the user
// keyring of corrald's uid. That keyring outlives every process (it
// belongs to the uid, in its user namespace, until reboot, which ends the
// sessions too). The key's permissions are its possessor's alone, and
// corrald possesses it by linking its uid's user keyring into its own
// process keyring, which no child inherits; a session's processes (another
// uid, or corrald's uid in a user namespace of their own) join a new
// session keyring at the gate (gated_child.cpp), so they never possess it
// and cannot read it, even knowing its serial number.
//
// docs/network.md, "A proxy per session", says what else the credential
// touches. Raw keyctl(2) calls: no libkeyutils.
#pragma once

#include <optional>
#include <string>

#include "corral/egress/upstream_proxy.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// Keep `proxy` for `session_id`, replacing a key of that name.
Result<void> keep_proxy_key(const std::string& session_id, const UpstreamProxy& proxy);
/// The proxy kept for `session_id`; nullopt when no key is there.
Result<std::optional<UpstreamProxy>> kept_proxy_key(const std::string& session_id);
/// Remove the key, if there is one.
void forget_proxy_key(const std::string& session_id);

}  // namespace corral
