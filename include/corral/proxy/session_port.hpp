// Whose is the port a browser said it listens on? Chrome picks a free port
// for DevTools and writes it to a file; by the time corral connects, a
// process outside the session (another session's browser, anyone on the
// host) may hold that port instead, and corral would hand the client, with
// corral's own authority, to a stranger. So before proxying, corral asks
// the kernel for every TCP socket listening on the port
// (net/socket_owner.hpp) and finds each one among the session's own: owned
// by its uid, or an open file of a process in its cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "corral/cgroup/cgroup.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// Whether the browser of a session may be reached on `port`: with
/// `own_uid` (the session's own uid), every listener there must be owned by
/// it; without, check_listener_in_cgroup. ECONNREFUSED, EPERM as below.
Result<void> check_session_port(uint16_t port, const Cgroup& cgroup, std::optional<uid_t> own_uid);

/// Success when at least one TCP socket (IPv4 or IPv6, any local address)
/// listens on `port` and every such socket is an open file of a process in
/// `cgroup` or its descendants. ECONNREFUSED: nothing listens there; EPERM:
/// a listener is not the cgroup's, or could not be found within a bounded
/// search (a process with a huge number of open files); EIO: the kernel
/// could not be asked.
Result<void> check_listener_in_cgroup(uint16_t port, const Cgroup& cgroup);

}  // namespace corral
