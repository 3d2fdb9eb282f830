#include "corral/launch/gated_child.hpp"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace corral {
namespace {

struct CStrings {
  std::vector<char*> pointers;
  explicit CStrings(const std::vector<std::string>& strings) {
    for (const auto& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
    pointers.push_back(nullptr);
  }
};

// The step at which the child gave up, sent up the exec-status pipe.
enum class Step : int {
  unshare_user_namespace, deny_setgroups, map_uid, map_gid, unshare_namespaces, loopback_up, private_mounts,
  private_proc, private_tmp, private_var_tmp, private_dev_shm, private_run_lock, session_resolv_conf, namespace_command,
  drop_groups, set_gid, set_uid, session_keyring, no_new_privs, change_dir, exec
};

// What the child writes to its new user namespace's maps, made before the
// fork (formatting is not async-signal-safe).
struct UserNamespaceMaps {
  const char* uid_map;
  const char* gid_map;
};

struct OwnNamespaces {
  bool wanted;
  const UserNamespaceMaps* user;  ///< null: no user namespace of its own
  char** first;                   ///< LaunchSpec::in_namespaces_first; {nullptr}: none
  const char* resolv_conf;        ///< LaunchSpec::resolv_conf; "": none
};

// "ID ID 1": the one id an unprivileged process may map, to itself.
std::string identity_map(unsigned id) { return std::to_string(id) + " " + std::to_string(id) + " 1"; }

struct ChildFailure {
  Step step;
  int error;
};

std::string describe(Step step, const std::optional<Credentials>& run_as) {
  auto uid = run_as ? std::to_string(run_as->uid) : "?", gid = run_as ? std::to_string(run_as->gid) : "?";
  switch (step) {
    case Step::unshare_user_namespace: return "unshare(CLONE_NEWUSER) for the session's own user namespace";
    case Step::deny_setgroups: return "writing 'deny' to the session's /proc/self/setgroups";
    case Step::map_uid: return "writing the session's /proc/self/uid_map";
    case Step::map_gid: return "writing the session's /proc/self/gid_map";
    case Step::unshare_namespaces: return "unshare(CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWIPC) for the session's namespaces";
    case Step::loopback_up: return "bringing up lo in the session's network namespace";
    case Step::private_mounts: return "making / rprivate in the session's mount namespace";
    case Step::private_proc: return "mounting the session's /proc (hidepid=invisible)";
    case Step::private_tmp: return "mounting the session's tmpfs on /tmp";
    case Step::private_var_tmp: return "mounting the session's tmpfs on /var/tmp";
    case Step::private_dev_shm: return "mounting the session's tmpfs on /dev/shm";
    case Step::private_run_lock: return "mounting the session's tmpfs on /run/lock";
    case Step::session_resolv_conf:
      return "binding the session's resolv.conf (its resolver, 127.0.0.1) read-only over /etc/resolv.conf";
    case Step::namespace_command: return "the command run in the session's namespaces first (its nftables rule)";
    case Step::drop_groups: return "setgroups(0) for the session user";
    case Step::set_gid: return "setresgid(" + gid + ") for the session user";
    case Step::set_uid: return "setresuid(" + uid + ") for the session user";
    case Step::session_keyring: return "keyctl(KEYCTL_JOIN_SESSION_KEYRING)";
    case Step::no_new_privs: return "prctl(PR_SET_NO_NEW_PRIVS)";
    case Step::change_dir: return "chdir";
    case Step::exec: return "exec";
  }
  return "start";
}

[[noreturn]] void fail(int exec_status, Step step) {
  ChildFailure failure{step, errno};
  (void)!write(exec_status, &failure, sizeof failure);
  _exit(127);
}

// The raw syscalls, not glibc's wrappers: those broadcast the change to every
// thread of the process (a signal dance that is not async-signal-safe), and
// this child has one thread anyway. Groups first, then gid, then uid: each
// step needs the privilege the next one drops.
void drop_to(int exec_status, const Credentials& who) {
  if (syscall(SYS_setgroups, 0, nullptr) < 0) fail(exec_status, Step::drop_groups);
  if (syscall(SYS_setresgid, who.gid, who.gid, who.gid) < 0) fail(exec_status, Step::set_gid);
  if (syscall(SYS_setresuid, who.uid, who.uid, who.uid) < 0) fail(exec_status, Step::set_uid);
}

// A child inherits corrald's session keyring (under systemd, the
// service's own, KeyringMode=private), and every session would possess the
// same one: a key one session adds there, another reads. A new anonymous
// keyring, joined after the drop so that the session's uid owns it, shares
// nothing. Where keyrings are unavailable (ENOSYS) or filtered (EPERM, as
// container seccomp profiles do), no session can use one either.
void leave_inherited_keyring(int exec_status) {
  constexpr long kJoinSessionKeyring = 1;  // KEYCTL_JOIN_SESSION_KEYRING, <linux/keyctl.h>
  if (syscall(SYS_keyctl, kJoinSessionKeyring, nullptr) < 0 && errno != ENOSYS && errno != EPERM)
    fail(exec_status, Step::session_keyring);
}

// `lo` of a new network namespace is down; the session's browser and
// chromedriver listen there, and corrald connects to them there.
bool bring_loopback_up() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  memcpy(request.ifr_name, "lo", 3);
  bool up = ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  if (up) {
    request.ifr_flags |= IFF_UP;
    up = ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return up;
}

// An empty tmpfs of the session's own where the host has `dir`; none where
// it has not (ENOENT). Gone with the mount namespace, when the session's
// last process ends.
void private_tmpfs(int exec_status, const char* dir, Step step) {
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0 && errno != ENOENT)
    fail(exec_status, step);
}

// The session's resolv.conf over the host's, in the session's mount
// namespace only (/ is rprivate by now). Binding onto the path follows it:
// where /etc/resolv.conf is a symlink (resolved's stub file), its target is
// covered, here alone. A bind mount takes its flags only on a remount; in a
// user namespace of its own that remount may not drop the atime flags the
// file's mount has (they are locked), so it keeps them.
void bind_resolv_conf(int exec_status, const char* file) {
  if (mount(file, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) < 0) fail(exec_status, Step::session_resolv_conf);
  struct statfs bound;
  if (statfs("/etc/resolv.conf", &bound) < 0) fail(exec_status, Step::session_resolv_conf);
  unsigned long atime = bound.f_flags & (MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | atime;
  if (mount(nullptr, "/etc/resolv.conf", nullptr, flags, nullptr) < 0) fail(exec_status, Step::session_resolv_conf);
}

// The command LaunchSpec::in_namespaces_first names, waited for. fork,
// execve and waitpid are async-signal-safe; this child has one thread.
void run_first(int exec_status, char** argv, char** envp) {
  pid_t pid = fork();
  if (pid < 0) fail(exec_status, Step::namespace_command);
  if (pid == 0) {
    execve(argv[0], argv, envp);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    errno = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ENOENT : EPERM;
    fail(exec_status, Step::namespace_command);
  }
}

void write_file(int exec_status, const char* path, const char* text, Step step) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(exec_status, step);
  size_t length = strlen(text);
  if (write(fd, text, length) != static_cast<ssize_t>(length)) fail(exec_status, step);
  close(fd);
}

// An unprivileged corrald's session: a user namespace of its own, where the
// child holds every capability over the namespaces it makes next. corrald's
// uid and gid map to themselves, so files keep their owners; setgroups is
// denied, as an unprivileged gid_map requires.
void enter_own_user_namespace(int exec_status, const UserNamespaceMaps& maps) {
  if (unshare(CLONE_NEWUSER) < 0) fail(exec_status, Step::unshare_user_namespace);
  write_file(exec_status, "/proc/self/setgroups", "deny", Step::deny_setgroups);
  write_file(exec_status, "/proc/self/uid_map", maps.uid_map, Step::map_uid);
  write_file(exec_status, "/proc/self/gid_map", maps.gid_map, Step::map_gid);
}

// Still root (or the owner of a user namespace of its own): the new
// namespaces need CAP_SYS_ADMIN (and CAP_NET_ADMIN for `lo`). No PID
// namespace: a /proc with hidepid=invisible already hides every other uid's
// processes from the session (corrald's included), and Chrome's own sandbox
// makes its PID namespaces below this. In a user namespace of its own, /proc
// cannot be mounted without one: the session keeps corrald's.
void enter_own_namespaces(int exec_status, const UserNamespaceMaps* maps, const char* resolv_conf) {
  if (maps) enter_own_user_namespace(exec_status, *maps);
  if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC) < 0) fail(exec_status, Step::unshare_namespaces);
  if (!bring_loopback_up()) fail(exec_status, Step::loopback_up);
  // Nothing mounted here may reach corrald's namespace, nor the other way.
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) fail(exec_status, Step::private_mounts);
  // Not subset=pid: that hides /proc/sys and /proc/mounts, which Chrome reads.
  if (!maps && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") < 0)
    fail(exec_status, Step::private_proc);
  private_tmpfs(exec_status, "/tmp", Step::private_tmp);
  private_tmpfs(exec_status, "/var/tmp", Step::private_var_tmp);
  private_tmpfs(exec_status, "/dev/shm", Step::private_dev_shm);
  private_tmpfs(exec_status, "/run/lock", Step::private_run_lock);
  if (resolv_conf[0]) bind_resolv_conf(exec_status, resolv_conf);
}

// Runs in the forked child of a multi-threaded parent: only async-signal-safe
// calls from here to execve.
[[noreturn]] void run_child(int gate, int gate_write_end, int exec_status, int log_fd, const Credentials* run_as,
                            const OwnNamespaces& own, const char* cwd, char** argv, char** envp) {
  // The fork copied the gate's write end too (O_CLOEXEC closes it only at
  // exec): held here, it would keep the read below from ever seeing the end
  // of a parent that died before its release, and this root process would
  // wait for ever outside any scope.
  close(gate_write_end);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon blocks SIGCHLD/SIGTERM for signalfd
  struct sigaction default_action;
  memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  setsid();  // own session: a Ctrl-C at the daemon's terminal must not reach browsers

  char go;
  if (read(gate, &go, 1) != 1) _exit(127);  // parent gave up: never run outside the scope

  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  dup2(devnull, STDIN_FILENO);
  dup2(log_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  // The daemon's HTTP sockets are not all O_CLOEXEC; keep none of them.
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (own.wanted) enter_own_namespaces(exec_status, own.user, own.resolv_conf);
  if (own.wanted && own.first[0]) run_first(exec_status, own.first, envp);
  if (run_as) drop_to(exec_status, *run_as);
  leave_inherited_keyring(exec_status);
  // Always, also without a user switch: a session never needs to gain
  // privileges, and Chrome's namespace sandbox works under it.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(exec_status, Step::no_new_privs);
  if (chdir(cwd) < 0) fail(exec_status, Step::change_dir);
  execve(argv[0], argv, envp);
  fail(exec_status, Step::exec);
}

}  // namespace

Result<GatedChild> GatedChild::spawn(const LaunchSpec& spec) {
  int gate[2], status[2];
  if (pipe2(gate, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd gate_read(gate[0]), gate_write(gate[1]);
  if (pipe2(status, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd status_read(status[0]), status_write(status[1]);
  UniqueFd log(::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log.valid()) return Error::from_errno(errno, "open '" + spec.log_file.string() + "'");

  CStrings argv(spec.argv), envp(spec.environment), first_argv(spec.in_namespaces_first);
  const Credentials* run_as = spec.run_as ? &*spec.run_as : nullptr;
  auto uid_map = identity_map(::getuid()), gid_map = identity_map(::getgid());
  UserNamespaceMaps maps{uid_map.c_str(), gid_map.c_str()};
  OwnNamespaces own{spec.own_namespaces, spec.own_namespaces && spec.own_user_namespace ? &maps : nullptr,
                    first_argv.pointers.data(), spec.resolv_conf.c_str()};
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0)
    run_child(gate_read.get(), gate_write.get(), status_write.get(), log.get(), run_as, own,
              spec.working_directory.c_str(), argv.pointers.data(), envp.pointers.data());

  // The pid cannot be reused before we reap it, so pidfd_open here is race-free.
  auto pidfd = Pidfd::open(pid);
  if (!pidfd) {
    ::kill(pid, SIGKILL);
    return pidfd.error();
  }
  return GatedChild(pid, std::move(*pidfd), std::move(gate_write), std::move(status_read), spec.run_as);
}

GatedChild::~GatedChild() {
  if (m_pid > 0 && !m_released) abort();
}

Result<void> GatedChild::release() {
  char go = 'g';
  if (::write(m_gate.get(), &go, 1) != 1) return Error::from_errno(errno, "open the launch gate");
  m_released = true;
  m_gate.reset();
  ChildFailure failure{};
  ssize_t n;
  do n = ::read(m_exec_status.get(), &failure, sizeof failure);
  while (n < 0 && errno == EINTR);
  m_exec_status.reset();
  if (n == sizeof failure) return Error::from_errno(failure.error, describe(failure.step, m_run_as));
  return success();
}

void GatedChild::abort() {
  if (m_pidfd.valid()) (void)m_pidfd.send_signal(SIGKILL);
  m_gate.reset();  // a child that survives the signal sees EOF and _exits at the gate
  m_released = true;
}

}  // namespace corral
