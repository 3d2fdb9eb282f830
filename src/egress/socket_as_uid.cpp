#include "corral/egress/socket_as_uid.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace corral {
namespace {

// setfsuid answers with the previous fsuid whether or not it changed it; an
// invalid uid (-1) changes nothing, so it reads the current one.
uid_t thread_fsuid_swap(uid_t uid) {
  return static_cast<uid_t>(::syscall(SYS_setfsuid, uid));
}

uid_t thread_fsuid() {
  return thread_fsuid_swap(static_cast<uid_t>(-1));
}

}  // namespace

Result<UniqueFd> open_socket_as(std::optional<uid_t> uid, int family) {
  constexpr int kType = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
  if (!uid) {
    UniqueFd socket(::socket(family, kType, 0));
    if (!socket.valid()) return Error::from_errno(errno, "outbound socket");
    return socket;
  }
  uid_t previous = thread_fsuid_swap(*uid);
  if (thread_fsuid() != *uid) {
    thread_fsuid_swap(previous);
    return Error::make(EPERM, "cannot make a socket as uid " + std::to_string(*uid) +
                                  " (setfsuid needs CAP_SETUID): refusing to connect as corrald instead");
  }
  UniqueFd socket(::socket(family, kType, 0));
  int error = errno;
  thread_fsuid_swap(previous);
  if (!socket.valid()) return Error::from_errno(error, "outbound socket as uid " + std::to_string(*uid));
  return socket;
}

}  // namespace corral
