// A TCP socket the kernel records as a session's: made while the calling
// thread's fsuid is the session's uid. The kernel takes a socket's owner
// (its inode's uid: what sock_diag, /proc/net/tcp and so corral's own
// peer_uid see) from the fsuid of the thread that creates it, so a service
// on the host that asks who connected sees the session's uid, never root.
// That matters most to corrald itself, which takes root peers on loopback
// for trusted callers: a page must never look like one.
//
// setfsuid through the raw syscall: it changes the calling thread alone
// (glibc's set*id wrappers change every thread of the process), and only
// for the moment socket() takes.
#pragma once

#include <sys/types.h>

#include <optional>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC), owned by
/// `uid` when one is given (else by whoever calls). EPERM when the thread
/// could not take the uid (corrald is not root): then no socket is made,
/// rather than one that would pass for corrald's.
Result<UniqueFd> open_socket_as(std::optional<uid_t> uid, int family);

}  // namespace corral
