#include "corral/launch/tool_run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <optional>

#include "corral/util/unique_fd.hpp"

namespace corral {
namespace {

// The tool's input and outputs are memfds, not pipes: a gated child
// another thread forks meanwhile holds copies of every descriptor until it
// execs (gated_child.cpp), and a pipe's reader would wait for that copy to
// close (the tool for its input's EOF, we for its output's). A file ends
// where it ends, whoever else holds it.
Result<UniqueFd> memfd(const char* name, const std::string& contents = "") {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd.valid()) return Error::from_errno(errno, "memfd_create");
  for (size_t written = 0; written < contents.size();) {
    auto n = ::write(fd.get(), contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "write memfd");
    written += n;
  }
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) return Error::from_errno(errno, "lseek memfd");
  return fd;
}

std::string contents_of(int fd) {
  std::string text;
  char buffer[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buffer, n);
  }
  return text;
}

// Between the clone and exec: no allocation (corrald has threads), so argv is ready.
[[noreturn]] void exec_tool(char* const* args, int in, int out, int err, int netns_fd) {
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon blocks SIGCHLD/SIGTERM for signalfd
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) < 0) _exit(126);
  char* envp[] = {nullptr};
  ::execve(args[0], args, envp);
  _exit(127);
}

// A fork without glibc's atfork handlers: the child of a multithreaded
// process may not take the locks they take.
pid_t raw_fork() { return static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0)); }

// The tool's parent, our child: corrald's ChildWatcher reaps every child it
// does not watch (corrald is a subreaper), so a tool that were our own child
// could be reaped, its status lost, before we waited for it. This one waits
// for the tool itself and writes its wait status to `status_fd`.
[[noreturn]] void run_and_report(char* const* args, int in, int out, int err, int netns_fd, int status_fd) {
  pid_t tool = raw_fork();
  if (tool == 0) exec_tool(args, in, out, err, netns_fd);
  int status = 127 << 8;
  if (tool > 0)
    while (::waitpid(tool, &status, 0) < 0 && errno == EINTR) {}
  (void)!::write(status_fd, &status, sizeof status);
  _exit(0);
}

// Until the reporter has written the tool's status (or ended without it):
// its pidfd says when it ends, and the status file is looked at as well, in
// case the pid was reaped and reused before the pidfd was opened.
std::optional<int> wait_for_report(pid_t reporter, int status_fd) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, reporter, 0)));
  for (;;) {
    struct stat written {};
    if (::fstat(status_fd, &written) == 0 && written.st_size >= static_cast<off_t>(sizeof(int))) break;
    if (!pidfd.valid()) break;  // gone before it could be opened
    pollfd ended = {pidfd.get(), POLLIN, 0};
    if (::poll(&ended, 1, 100) > 0) break;
  }
  if (pidfd.valid()) {
    pollfd ended = {pidfd.get(), POLLIN, 0};
    ::poll(&ended, 1, 1000);
    ::waitpid(reporter, nullptr, WNOHANG);  // unless ChildWatcher reaped it first
  }
  int status = 0;
  if (::pread(status_fd, &status, sizeof status, 0) != sizeof status) return std::nullopt;
  return status;
}

}  // namespace

Result<std::string> run_tool(const std::vector<std::string>& argv, const std::string& input, int netns_fd) {
  CORRAL_TRY_ASSIGN(auto in, memfd("tool-in", input));
  CORRAL_TRY_ASSIGN(auto out, memfd("tool-out"));
  CORRAL_TRY_ASSIGN(auto err, memfd("tool-err"));
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  CORRAL_TRY_ASSIGN(auto status_file, memfd("tool-status"));
  pid_t reporter = raw_fork();
  if (reporter == 0) run_and_report(args.data(), in.get(), out.get(), err.get(), netns_fd, status_file.get());
  if (reporter < 0) return Error::from_errno(errno, "fork");
  auto reported = wait_for_report(reporter, status_file.get());
  if (!reported) return Error::make(ECHILD, argv[0] + ": its parent ended without its status");
  int status = *reported;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return contents_of(out.get());
  auto stderr_text = contents_of(err.get());
  while (!stderr_text.empty() && stderr_text.back() == '\n') stderr_text.pop_back();
  return Error::make(EIO, argv[0] + " failed (status " + std::to_string(status) + "): " + stderr_text);
}

}  // namespace corral
