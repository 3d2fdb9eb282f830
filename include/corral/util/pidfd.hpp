// Pidfd: an owned pidfd (Linux ≥ 5.3), a handle on one process that cannot
// be confused with a later process that gets the same PID. Signals sent
// through it reach that process or fail with ESRCH; it becomes readable
// when the process exits, so waiting for an exit is poll(2), not a loop.
#pragma once

#include <sys/types.h>

#include <chrono>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

class Pidfd {
 public:
  Pidfd() = default;
  /// pidfd_open(2). ESRCH when no such process exists. Race-free for a child
  /// we have not reaped; for any other process, check its identity after
  /// (process_identity.hpp).
  static Result<Pidfd> open(pid_t pid);

  bool valid() const { return m_fd.valid(); }
  pid_t pid() const { return m_pid; }
  int get() const { return m_fd.get(); }

  /// pidfd_send_signal(2). ESRCH once the process has exited.
  Result<void> send_signal(int signal) const;
  /// True once the process has exited, zombie or reaped.
  bool exited() const { return wait_exit(std::chrono::milliseconds(0)); }
  /// Wait up to `timeout` for the process to exit; true if it has.
  bool wait_exit(std::chrono::milliseconds timeout) const;
  /// Another descriptor for the same process, for an owner of its own.
  Result<Pidfd> dup() const;

 private:
  Pidfd(pid_t pid, UniqueFd fd) : m_pid(pid), m_fd(std::move(fd)) {}

  pid_t m_pid = -1;
  UniqueFd m_fd;
};

}  // namespace corral
