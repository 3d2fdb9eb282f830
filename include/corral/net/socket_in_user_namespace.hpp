// A socket made inside another user's network namespace, for a corrald
// without privileges (the user manager). Its sessions' network namespaces
// belong to user namespaces of their own (gated_child.hpp), which corrald's
// uid owns; setns(CLONE_NEWUSER) into one is refused to a multithreaded
// process, and once in, no thread could come back. So a short-lived child
// joins the user namespace, then the network namespace (in that order: the
// second needs CAP_SYS_ADMIN over the network namespace, which only the
// first gives), makes the socket and hands it back over SCM_RIGHTS.
//
// The child shares corrald's memory and stops the calling thread until it
// ends (clone CLONE_VM|CLONE_VFORK, as posix_spawn does): a plain fork()
// copies corrald's page tables, measured here at 2-6 ms against 50-200 us.
#pragma once

#include <sys/socket.h>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// A new socket of `type` (SOCK_STREAM or SOCK_DGRAM; non-blocking, close-on-exec, not yet connected or
/// bound) of the network namespace `network_ns`, whose owning user
/// namespace is `user_ns` (fds of /proc/PID/ns/net and /proc/PID/ns/user).
/// A socket stays in the namespace it was made in: connect, bind and listen
/// on it are the caller's, from any thread.
Result<UniqueFd> socket_in_user_namespace(int user_ns, int network_ns, int type = SOCK_STREAM);

}  // namespace corral
