// --session-network own, checked at start: corrald refuses to start rather
// than run sessions that would share its network after all, or fail one by
// one at their gates.
#pragma once

#include "corral/launch/host_launcher.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// Success when sessions can get namespaces of their own here: corrald
/// holds CAP_SYS_ADMIN (the namespaces, and setns into them), CAP_NET_ADMIN
/// (`lo`) and CAP_SYS_PTRACE (a session uid's /proc/PID/ns/net on
/// adoption); a forked child can unshare them (no seccomp filter or
/// RestrictNamespaces= forbids it); and neither the state dir nor a
/// browser lies under the directories a session gets a tmpfs of its own
/// on, where it could not see them. EPERM or EINVAL with what is missing.
Result<void> check_own_network(const HostLauncherConfig& config);

/// The same for an unprivileged corrald, whose sessions get those
/// namespaces inside a user namespace of their own (gated_child.hpp): a
/// forked child can make one and the namespaces in it, and the state dir
/// and browsers are visible to sessions. EPERM or EINVAL with what failed.
Result<void> check_own_user_network(const HostLauncherConfig& config);

}  // namespace corral
