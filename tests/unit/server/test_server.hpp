// A real HttpServer on a loopback port for the server's unit tests, and
// the raw socket calls they talk to it with.
#pragma once

#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "corral/server/http_server.hpp"
#include "corral/server/listen_socket.hpp"

namespace corral::test {

using namespace std::chrono;

// A server on a free loopback port with short limits, stopped at the end.
struct TestServer {
  explicit TestServer(const ConnectionLimits& limits) : server(ServerOptions{limits, 2, 2, 16}) {}
  ~TestServer() { server.stop(milliseconds(100)); }
  void start() {
    auto listener = bind_listen_socket({"127.0.0.1", 0, {}});
    REQUIRE(listener.ok());
    port = std::stoi(listener->url().substr(listener->url().rfind(':') + 1));
    server.start(listener->take_fd(), false);
  }
  UniqueFd connect() const {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{3, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return fd;
  }
  HttpServer server;
  int port = 0;
};

inline void send_all(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()));
}

// Whatever arrives until `until` is in it, the peer closes, or 3 s pass.
inline std::string receive(int fd, const std::string& until) {
  std::string got;
  char buffer[4096];
  while (got.find(until) == std::string::npos) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  return got;
}

inline ConnectionLimits short_limits() {
  ConnectionLimits limits;
  limits.idle = limits.keep_alive_idle = milliseconds(200);
  limits.request_time = limits.response_time = milliseconds(300);
  return limits;
}


}  // namespace corral::test
