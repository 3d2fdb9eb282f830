#include "corral/net/session_connector.hpp"

#include "corral/net/in_network_namespace.hpp"
#include "corral/net/socket_in_user_namespace.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <string>

namespace corral {
namespace {

bool same_namespace(int a, int b) {
  struct stat first{}, second{};
  return ::fstat(a, &first) == 0 && ::fstat(b, &second) == 0 && first.st_dev == second.st_dev &&
         first.st_ino == second.st_ino;
}

const UniqueFd& own_user_namespace() {
  static const UniqueFd fd(::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
  return fd;
}

// The user namespace of process `pid` when it is not corrald's: a session
// an unprivileged corrald started (or an earlier run of it). Null when it
// is corrald's own, as every session of a root corrald's is.
Result<std::shared_ptr<UniqueFd>> foreign_user_namespace(pid_t pid) {
  auto path = "/proc/" + std::to_string(pid) + "/ns/user";
  auto ns = std::make_shared<UniqueFd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns->valid()) return Error::from_errno(errno, "open " + path);
  if (!own_user_namespace().valid()) return Error::from_errno(EBADF, "open corrald's own /proc/self/ns/user");
  if (same_namespace(ns->get(), own_user_namespace().get())) return std::shared_ptr<UniqueFd>();
  return ns;
}

}  // namespace

Result<void> remember_own_network() {
  if (!own_network().valid()) return Error::from_errno(errno, "open corrald's own /proc/self/ns/net");
  if (!own_user_namespace().valid()) return Error::from_errno(errno, "open corrald's own /proc/self/ns/user");
  return success();
}

Result<SessionNetwork> SessionNetwork::of_process(pid_t pid) {
  auto path = "/proc/" + std::to_string(pid) + "/ns/net";
  auto ns = std::make_shared<UniqueFd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns->valid()) return Error::from_errno(errno, "open " + path);
  CORRAL_TRY(remember_own_network());
  if (same_namespace(ns->get(), own_network().get())) return SessionNetwork();
  CORRAL_TRY_ASSIGN(auto user, foreign_user_namespace(pid));
  return SessionNetwork(std::move(ns), std::move(user));
}

sockaddr_in session_loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

Result<UniqueFd> session_socket(const SessionNetwork& network, int type) {
  if (network.user_fd() >= 0) return socket_in_user_namespace(network.user_fd(), network.fd(), type);
  UniqueFd fd;
  auto make = [&]() -> Result<void> {
    fd = UniqueFd(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Error::from_errno(errno, "socket for a session's loopback");
    return success();
  };
  if (network.own()) {
    CORRAL_TRY(remember_own_network());
    CORRAL_TRY(visit_network_namespace(network.fd(), make));
  } else {
    CORRAL_TRY(make());
  }
  return fd;
}

namespace {

// The end of a non-blocking connect: wait until the socket is writable,
// then read its outcome (SO_ERROR).
Result<void> finish_connect(int fd, uint16_t port, std::chrono::milliseconds timeout) {
  pollfd writable{fd, POLLOUT, 0};
  int ready;
  do ready = ::poll(&writable, 1, static_cast<int>(timeout.count()));
  while (ready < 0 && errno == EINTR);
  auto where = "connect to 127.0.0.1:" + std::to_string(port);
  if (ready < 0) return Error::from_errno(errno, where);
  if (ready == 0)
    return Error::make(ETIMEDOUT, where + ": no answer within " + std::to_string(timeout.count()) + " ms");
  int outcome = 0;
  socklen_t length = sizeof outcome;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &outcome, &length) < 0) return Error::from_errno(errno, where);
  if (outcome != 0) return Error::from_errno(outcome, where);
  return success();
}

}  // namespace

Result<UniqueFd> listen_in_session(const SessionNetwork& network, uint16_t port) {
  if (!network.own()) return Error::make(EINVAL, "a session that shares corrald's network has no way out of its own");
  CORRAL_TRY_ASSIGN(auto fd, session_socket(network));
  auto address = session_loopback(port);
  auto where = "listen on the session's 127.0.0.1:" + std::to_string(port);
  // After a crash the old listener's connections linger in TIME_WAIT on
  // this port; the adopting corrald must still get it back at once.
  int reuse = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) < 0) return Error::from_errno(errno, where);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0)
    return Error::from_errno(errno, where);
  if (::listen(fd.get(), SOMAXCONN) < 0) return Error::from_errno(errno, where);
  return fd;
}

Result<UniqueFd> bound_in_session(const SessionNetwork& network, uint16_t port) {
  if (!network.own()) return Error::make(EINVAL, "a session that shares corrald's network has no resolver of its own");
  CORRAL_TRY_ASSIGN(auto fd, session_socket(network, SOCK_DGRAM));
  auto address = session_loopback(port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0)
    return Error::from_errno(errno, "bind the session's UDP 127.0.0.1:" + std::to_string(port));
  return fd;
}

Result<UniqueFd> connect_to_session(const SessionNetwork& network, uint16_t port, std::chrono::milliseconds timeout) {
  CORRAL_TRY_ASSIGN(auto fd, session_socket(network));
  auto address = session_loopback(port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return fd;
  if (errno != EINPROGRESS) return Error::from_errno(errno, "connect to 127.0.0.1:" + std::to_string(port));
  CORRAL_TRY(finish_connect(fd.get(), port, timeout));
  return fd;
}

}  // namespace corral
