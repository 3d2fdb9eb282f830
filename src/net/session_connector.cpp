#include "corral/net/session_connector.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <string>

namespace corral {

sockaddr_in session_loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

Result<UniqueFd> session_socket(const SessionNetwork&) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::from_errno(errno, "socket for a session's loopback");
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

Result<UniqueFd> connect_to_session(const SessionNetwork& network, uint16_t port, std::chrono::milliseconds timeout) {
  CORRAL_TRY_ASSIGN(auto fd, session_socket(network));
  auto address = session_loopback(port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return fd;
  if (errno != EINPROGRESS) return Error::from_errno(errno, "connect to 127.0.0.1:" + std::to_string(port));
  CORRAL_TRY(finish_connect(fd.get(), port, timeout));
  return fd;
}

}  // namespace corral
