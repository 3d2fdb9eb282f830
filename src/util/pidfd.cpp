#include "corral/util/pidfd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace corral {

Result<Pidfd> Pidfd::open(pid_t pid) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd.valid()) return Error::from_errno(errno, "pidfd_open(" + std::to_string(pid) + ")");
  return Pidfd(pid, std::move(fd));
}

Result<void> Pidfd::send_signal(int signal) const {
  if (::syscall(SYS_pidfd_send_signal, m_fd.get(), signal, nullptr, 0) < 0)
    return Error::from_errno(errno, "signal pid " + std::to_string(m_pid));
  return success();
}

bool Pidfd::wait_exit(std::chrono::milliseconds timeout) const {
  struct pollfd pfd = {m_fd.get(), POLLIN, 0};
  int ready;
  do ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  while (ready < 0 && errno == EINTR);
  return ready > 0;
}

Result<Pidfd> Pidfd::dup() const {
  UniqueFd copy(::fcntl(m_fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!copy.valid()) return Error::from_errno(errno, "dup pidfd of " + std::to_string(m_pid));
  return Pidfd(m_pid, std::move(copy));
}

}  // namespace corral
