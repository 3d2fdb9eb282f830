// The egress relay's tests, from both ends: a blocking SOCKS5 client (what
// the session's Chrome is to the relay) and a test server on 127.0.0.1
// that echoes what it reads and notes who connected (what a web server is).
#pragma once

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loopback_listener.hpp"
#include "corral/net/session_connector.hpp"
#include "corral/net/socket_owner.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral::testing {

using Bytes = std::vector<uint8_t>;

inline UniqueFd connect_to_loopback(uint16_t port) {
  auto address = session_loopback(port);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  timeval patience{5, 0};  // a test that waits for a relay that never answers fails, not hangs
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  return fd;
}

inline void send_all(int fd, const void* data, size_t size) {
  auto* bytes = static_cast<const char*>(data);
  for (size_t sent = 0; sent < size;) {
    ssize_t n = ::send(fd, bytes + sent, size - sent, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    sent += static_cast<size_t>(n);
  }
}

inline void send_bytes(int fd, const Bytes& bytes) {
  send_all(fd, bytes.data(), bytes.size());
}

/// Exactly `size` bytes, or fewer if the other side ended (or reset) first.
inline std::string receive(int fd, size_t size) {
  std::string got(size, '\0');
  size_t have = 0;
  while (have < size) {
    ssize_t n = ::recv(fd, got.data() + have, size - have, 0);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  got.resize(have);
  return got;
}

/// True once the other side closed: a read gives EOF or a reset.
inline bool closed_by_peer(int fd) {
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

/// CONNECT by IPv4 address.
inline Bytes connect_request(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port, uint8_t command = 1) {
  return {5, command, 0, 1, a, b, c, d, static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port & 0xff)};
}

/// CONNECT by name.
inline Bytes connect_request(const std::string& name, uint16_t port) {
  Bytes request = {5, 1, 0, 3, static_cast<uint8_t>(name.size())};
  for (char c : name) request.push_back(static_cast<uint8_t>(c));
  request.push_back(static_cast<uint8_t>(port >> 8));
  request.push_back(static_cast<uint8_t>(port & 0xff));
  return request;
}

/// A client through the relay on `relay_port`: greeting (no
/// authentication), then `request`. The reply's code; the connection in `fd`.
inline int socks_connect(uint16_t relay_port, const Bytes& request, UniqueFd& fd) {
  fd = connect_to_loopback(relay_port);
  send_bytes(fd.get(), {5, 1, 0});
  REQUIRE(receive(fd.get(), 2) == std::string("\x05\x00", 2));
  send_bytes(fd.get(), request);
  auto reply = receive(fd.get(), 10);
  REQUIRE(reply.size() == 10);
  CHECK(reply[0] == 5);
  return static_cast<uint8_t>(reply[1]);
}

/// Wait (up to 5 s) until `done()`.
template <class Condition>
bool eventually(Condition done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// A server on 127.0.0.1 that echoes every connection until its client
/// ends, noting the owner (uid) of each connecting socket.
class EchoServer {
 public:
  EchoServer() : m_listener(listen_on_loopback(port, 64)) {
    m_accepting = std::thread([this] { accept_all(); });
  }
  ~EchoServer() {
    m_stopping = true;
    ::shutdown(m_listener.get(), SHUT_RDWR);
    m_accepting.join();
    for (auto& echo : m_echoes) echo.join();
  }

  size_t accepted() const { return m_accepted.load(); }
  std::vector<std::optional<uid_t>> peer_uids() {
    std::lock_guard lock(m_mutex);
    return m_peer_uids;
  }

  uint16_t port = 0;

 private:
  void accept_all() {
    while (!m_stopping) {
      UniqueFd connection(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection.valid()) return;
      {
        std::lock_guard lock(m_mutex);
        m_peer_uids.push_back(peer_uid(connection.get()));
      }
      ++m_accepted;
      m_echoes.emplace_back([fd = std::make_shared<UniqueFd>(std::move(connection))] { echo(fd->get()); });
    }
  }

  static void echo(int fd) {
    char chunk[65536];
    ssize_t n;
    while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
      for (ssize_t sent = 0, w; sent < n; sent += w)
        if ((w = ::send(fd, chunk + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL)) <= 0) return;
    ::shutdown(fd, SHUT_WR);
  }

  UniqueFd m_listener;
  std::atomic<bool> m_stopping{false};
  std::atomic<size_t> m_accepted{0};
  std::mutex m_mutex;
  std::vector<std::optional<uid_t>> m_peer_uids;
  std::thread m_accepting;
  std::vector<std::thread> m_echoes;
};

}  // namespace corral::testing
