// ChildWatcher: one thread that learns, by event, when a session's main
// process ends, and reaps every other child the daemon inherits.
//
// corrald is a child subreaper (PR_SET_CHILD_SUBREAPER): the helpers a browser
// double-forks away (chrome_crashpad_handler) are reparented to us instead of
// PID 1, and we reap them at once, so no defunct Chrome piles up even in a
// container with no init. Watched main processes are reaped through their
// pidfd so their exit status reaches the session.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "corral/util/error.hpp"
#include "corral/util/pidfd.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// How a process ended: exit code, or the signal that killed it.
struct ExitStatus {
  int code = 0;
  int signal = 0;
  bool core_dumped = false;
  /// False for a process we did not fork (adopted after a restart): its
  /// status went to whoever reaped it.
  bool known = true;
  std::string describe() const;
};

class ChildWatcher {
 public:
  using ExitCallback = std::function<void(ExitStatus)>;

  /// SIGCHLD must be blocked in every thread before this is created (main does
  /// it before starting any thread); the watcher reads it from a signalfd.
  ChildWatcher();
  ~ChildWatcher();
  Result<void> start();
  void stop();

  /// Call `on_exit` (on the watcher thread; keep it short) when `pid` ends.
  /// The watcher owns `pidfd` (a dup of the caller's, typically) and closes
  /// it once it has reaped the process, so whoever started watching need
  /// not keep an fd open for it.
  void watch(Pidfd pidfd, ExitCallback on_exit);

 private:
  struct Watched {
    Pidfd pidfd;
    ExitCallback on_exit;
  };
  void run();
  void reap_exited_children();
  /// Reap a watched process that has ended and call its callback.
  void report_exit(pid_t pid);

  std::mutex m_mutex;
  std::map<pid_t, Watched> m_watched;
  UniqueFd m_epoll, m_signals, m_wakeup;
  std::thread m_thread;
  bool m_stopping = false;
};

/// Block SIGCHLD, SIGTERM, SIGINT and ignore SIGPIPE in the calling thread and
/// all threads it starts later. Call first thing in main().
void block_daemon_signals();

}  // namespace corral
