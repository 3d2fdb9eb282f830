#include "corral/net/socket_in_user_namespace.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>

namespace corral {
namespace {

struct HelperTask {
  int user_ns;
  int network_ns;
  int type;   ///< SOCK_STREAM or SOCK_DGRAM
  int reply;  ///< the helper's end of a socketpair
};

// Exit codes of the helper: which step failed (its errno is lost with it).
enum HelperFailure : int { joined = 0, user_namespace = 1, network_namespace = 2, make_socket = 3, hand_back = 4 };

bool send_fd(int over, int fd) {
  char byte = 0;
  iovec io{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  return ::sendmsg(over, &message, MSG_NOSIGNAL) == 1;
}

// The helper: a process of its own sharing corrald's memory, while the
// calling thread waits. Only system calls; nothing that takes a lock or
// allocates. Its namespaces end with it.
int make_socket_inside(void* argument) {
  const auto* task = static_cast<const HelperTask*>(argument);
  if (::setns(task->user_ns, CLONE_NEWUSER) < 0) _exit(HelperFailure::user_namespace);
  if (::setns(task->network_ns, CLONE_NEWNET) < 0) _exit(HelperFailure::network_namespace);
  int fd = ::socket(AF_INET, task->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) _exit(HelperFailure::make_socket);
  _exit(send_fd(task->reply, fd) ? HelperFailure::joined : HelperFailure::hand_back);
}

Result<UniqueFd> receive_fd(int from) {
  char byte;
  iovec io{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  ssize_t n;
  do n = ::recvmsg(from, &message, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  cmsghdr* header = n == 1 ? CMSG_FIRSTHDR(&message) : nullptr;
  if (!header || header->cmsg_type != SCM_RIGHTS) return Error::make(EPROTO, "no socket came back");
  int fd;
  std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
  return UniqueFd(fd);
}

const char* failed_step(int code) {
  switch (code) {
    case HelperFailure::user_namespace: return "setns(CLONE_NEWUSER) into the session's user namespace";
    case HelperFailure::network_namespace: return "setns(CLONE_NEWNET) into the session's network namespace";
    case HelperFailure::make_socket: return "socket() in the session's network namespace";
    default: return "handing the socket back";
  }
}

// Run the helper with every signal blocked: it shares corrald's memory, and
// a handler run there would run on corrald's data (posix_spawn does the same).
pid_t start_helper(HelperTask& task, char* stack_top) {
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  // Exit signal 0: no SIGCHLD, and ChildWatcher's waitid(P_ALL) (without
  // __WALL) never sees it; it is reaped below by pid.
  pid_t pid = ::clone(make_socket_inside, stack_top, CLONE_VM | CLONE_VFORK, &task);
  int saved_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  errno = saved_errno;
  return pid;
}

}  // namespace

Result<UniqueFd> socket_in_user_namespace(int user_ns, int network_ns, int type) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0) return Error::from_errno(errno, "socketpair");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  HelperTask task{user_ns, network_ns, type, theirs.get()};
  constexpr size_t kStackSize = 64 * 1024;
  auto stack = std::make_unique<char[]>(kStackSize);
  pid_t pid = start_helper(task, stack.get() + kStackSize);
  if (pid < 0) return Error::from_errno(errno, "clone a helper to enter the session's namespaces");
  int status = 0;
  while (::waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
  theirs.reset();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != HelperFailure::joined)
    return Error::make(EPERM, std::string("the helper failed at ") +
                                  failed_step(WIFEXITED(status) ? WEXITSTATUS(status) : HelperFailure::hand_back));
  return receive_fd(ours.get());
}

}  // namespace corral
