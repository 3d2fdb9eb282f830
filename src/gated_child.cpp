#include "corral/gated_child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

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

// Runs in the forked child of a multi-threaded parent: only async-signal-safe
// calls from here to execve.
[[noreturn]] void run_child(int gate, int exec_status, int log_fd, const char* cwd, char** argv,
                            char** envp) {
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
  if (chdir(cwd) == 0) execve(argv[0], argv, envp);
  int error = errno;
  (void)!write(exec_status, &error, sizeof error);
  _exit(127);
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

  CStrings argv(spec.argv), envp(spec.environment);
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0)
    run_child(gate_read.get(), status_write.get(), log.get(), spec.working_directory.c_str(),
              argv.pointers.data(), envp.pointers.data());

  // The pid cannot be reused before we reap it, so pidfd_open here is race-free.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    int error = errno;
    ::kill(pid, SIGKILL);
    return Error::from_errno(error, "pidfd_open");
  }
  return GatedChild(pid, std::move(pidfd), std::move(gate_write), std::move(status_read));
}

GatedChild::~GatedChild() {
  if (m_pid > 0 && !m_released) abort();
}

Result<void> GatedChild::release() {
  char go = 'g';
  if (::write(m_gate.get(), &go, 1) != 1) return Error::from_errno(errno, "open the launch gate");
  m_released = true;
  m_gate.reset();
  int exec_error = 0;
  ssize_t n;
  do n = ::read(m_exec_status.get(), &exec_error, sizeof exec_error);
  while (n < 0 && errno == EINTR);
  m_exec_status.reset();
  if (n == sizeof exec_error) return Error::from_errno(exec_error, "exec");
  return success();
}

void GatedChild::abort() {
  if (m_pidfd.valid()) ::syscall(SYS_pidfd_send_signal, m_pidfd.get(), SIGKILL, nullptr, 0);
  m_gate.reset();  // a child that survives the signal sees EOF and _exits at the gate
  m_released = true;
}

}  // namespace corral
