// GatedChild: a forked child that waits at a gate until its cgroup is ready.
//
// No process of a session may ever run outside its cgroup. So the child is
// forked first and blocks reading a pipe; the backend moves it into the
// session's scope; only then does release() open the gate and the child
// exec()s the browser. Everything it forks afterwards is born in the scope.
//
// Between the gate and exec the child also drops to the session's user (if
// one is given) and sets PR_SET_NO_NEW_PRIVS, so nothing a session runs can
// gain privileges through a setuid binary or file capabilities.
//
// With LaunchSpec::own_namespaces, still as root and before that drop, it
// leaves corrald's network, mount and IPC namespaces for new ones: its
// network has only `lo` (up), its /proc hides other uids' processes
// (hidepid=invisible), and /tmp, /var/tmp, /dev/shm and /run/lock are empty
// tmpfs that end with the session's last process.
//
// With LaunchSpec::own_user_namespace too (an unprivileged corrald, which
// has no root to do the above with), it first makes a user namespace of its
// own that maps corrald's uid and gid to themselves (setgroups denied), and
// does the above as that namespace's owner: the same network, IPC and tmpfs,
// but corrald's /proc (mounting one needs a PID namespace of the user
// namespace's own; hiding processes of the same uid would be no use anyway).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "corral/util/error.hpp"
#include "corral/util/pidfd.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// Who a child runs as: this uid, this gid as its primary group, and no
/// supplementary groups.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
};

struct LaunchSpec {
  std::vector<std::string> argv;         ///< argv[0] is the program's path
  std::vector<std::string> environment;  ///< complete environment, "KEY=value"
  std::filesystem::path working_directory;
  std::filesystem::path log_file;        ///< stdout and stderr go here (appended)
  std::optional<Credentials> run_as;     ///< unset: keep the daemon's uid, gid and groups
  /// New network, mount and IPC namespaces at the gate (needs
  /// CAP_SYS_ADMIN and CAP_NET_ADMIN); false: corrald's own.
  bool own_namespaces = false;
  /// With own_namespaces: make them inside a new user namespace, as an
  /// unprivileged corrald must (no run_as then).
  bool own_user_namespace = false;
  /// With own_namespaces: a command the gate runs, as root, inside them once
  /// they are made and before the drop, and waits for (the session's
  /// nftables rule, chromedriver_guard.hpp). Empty: none. A nonzero exit
  /// fails the start.
  std::vector<std::string> in_namespaces_first;
  /// With own_namespaces: a file bound (read-only) over /etc/resolv.conf in
  /// the session's mount namespace, naming the session's resolver
  /// (session_resolver.hpp). Empty: the host's, untouched.
  std::filesystem::path resolv_conf;
};

class GatedChild {
 public:
  /// Fork the child, which waits at the gate. Nothing of `spec` runs yet.
  static Result<GatedChild> spawn(const LaunchSpec& spec);

  GatedChild(GatedChild&&) = default;
  GatedChild& operator=(GatedChild&&) = default;
  ~GatedChild();

  pid_t pid() const { return m_pid; }
  const Pidfd& pidfd() const { return m_pidfd; }

  /// Open the gate; returns once the child has exec()ed, or with the errno
  /// of the step that failed: one of the own namespaces (unshare, `lo`, a
  /// mount), dropping to `run_as` (EPERM without CAP_SETUID),
  /// PR_SET_NO_NEW_PRIVS, chdir or exec (ENOENT for a missing
  /// binary, EACCES for one the session user may not run, ...).
  Result<void> release();
  /// SIGKILL a child that was never released. The reaper reaps it.
  void abort();

 private:
  GatedChild(pid_t pid, Pidfd pidfd, UniqueFd gate, UniqueFd exec_status, std::optional<Credentials> run_as)
      : m_pid(pid),
        m_pidfd(std::move(pidfd)),
        m_gate(std::move(gate)),
        m_exec_status(std::move(exec_status)),
        m_run_as(run_as) {}

  pid_t m_pid = -1;
  Pidfd m_pidfd;
  UniqueFd m_gate;         ///< write end; the child blocks reading the other end
  UniqueFd m_exec_status;  ///< read end; EOF means exec succeeded (CLOEXEC), else a ChildFailure
  std::optional<Credentials> m_run_as;  ///< to name the ids in a failure
  bool m_released = false;
};

}  // namespace corral
