#include "corral/launch/tool_run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <tuple>

namespace corral {
namespace {

// Between fork and exec: no allocation (corrald has threads), so argv is ready.
[[noreturn]] void exec_child(char* const* args, int in, int out, int err, int netns_fd) {
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) < 0) _exit(126);
  char* envp[] = {nullptr};
  ::execve(args[0], args, envp);
  _exit(127);
}

// Writes `input` and reads both outputs until they close, with poll: a tool
// that writes much before reading all its input must not deadlock us.
void exchange(int in, int out, int err, const std::string& input, std::string& stdout_text, std::string& stderr_text) {
  size_t written = 0;
  if (input.empty()) ::close(in), in = -1;
  while (out >= 0 || err >= 0) {
    pollfd fds[3] = {{in, POLLOUT, 0}, {out, POLLIN, 0}, {err, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0 && errno != EINTR) break;
    if (in >= 0 && fds[0].revents) {
      auto n = ::write(in, input.data() + written, input.size() - written);
      if (n > 0) written += n;
      if (n <= 0 || written == input.size()) ::close(in), in = -1;
    }
    for (auto [fd, text, revents] : {std::tuple{&out, &stdout_text, fds[1].revents},
                                     std::tuple{&err, &stderr_text, fds[2].revents}}) {
      if (*fd < 0 || !revents) continue;
      char buffer[4096];
      auto n = ::read(*fd, buffer, sizeof buffer);
      if (n > 0) text->append(buffer, n);
      else if (n == 0 || errno != EINTR) ::close(*fd), *fd = -1;
    }
  }
  if (in >= 0) ::close(in);
}

}  // namespace

Result<std::string> run_tool(const std::vector<std::string>& argv, const std::string& input, int netns_fd) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  if (::pipe2(out, O_CLOEXEC) < 0) return ::close(in[0]), ::close(in[1]), Error::from_errno(errno, "pipe");
  if (::pipe2(err, O_CLOEXEC) < 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return Error::from_errno(errno, "pipe");
  }
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) exec_child(args.data(), in[0], out[1], err[1], netns_fd);
  for (int fd : {in[0], out[1], err[1]}) ::close(fd);
  if (pid < 0) {
    for (int fd : {in[1], out[0], err[0]}) ::close(fd);
    return Error::from_errno(errno, "fork");
  }
  std::string stdout_text, stderr_text;
  exchange(in[1], out[0], err[0], input, stdout_text, stderr_text);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return stdout_text;
  while (!stderr_text.empty() && stderr_text.back() == '\n') stderr_text.pop_back();
  return Error::make(EIO, argv[0] + " failed (status " + std::to_string(status) + "): " + stderr_text);
}

}  // namespace corral
