// A small upstream proxy for the relay's tests, on 127.0.0.1: HTTP
// CONNECT with Basic authentication, or SOCKS5 with username/password
// (RFC 1929), checking the credential it was given. It notes what each
// client asked for (the destination as named, not resolved) and, when the
// credential is right, connects to 127.0.0.1 on the asked port whatever
// the name, and relays both ways. Blocking, a thread per connection.
#pragma once

#include <poll.h>

#include "socks_client.hpp"
#include "corral/egress/upstream_proxy.hpp"

namespace corral::testing {

class UpstreamProxyServer {
 public:
  UpstreamProxyServer(UpstreamProxy::Scheme scheme, std::string user, std::string password)
      : m_scheme(scheme), m_user(std::move(user)), m_password(std::move(password)),
        m_listener(listen_on_loopback(port, 16)) {
    m_accepting = std::thread([this] { accept_all(); });
  }
  ~UpstreamProxyServer() {
    ::shutdown(m_listener.get(), SHUT_RDWR);
    m_accepting.join();
    for (auto& worker : m_workers) worker.join();
  }

  size_t accepted() const { return m_accepted.load(); }
  /// "host:port" of every request whose credential was right.
  std::vector<std::string> destinations() {
    std::lock_guard lock(m_mutex);
    return m_destinations;
  }

  uint16_t port = 0;

 private:
  void accept_all() {
    for (;;) {
      auto fd = std::make_shared<UniqueFd>(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!fd->valid()) return;
      ++m_accepted;
      m_workers.emplace_back([this, fd] { serve(fd->get()); });
    }
  }

  void serve(int client) {
    auto destination = m_scheme == UpstreamProxy::Scheme::http ? http_request(client) : socks_request(client);
    if (destination.empty()) return;
    {
      std::lock_guard lock(m_mutex);
      m_destinations.push_back(destination);
    }
    auto port = static_cast<uint16_t>(std::stoi(destination.substr(destination.rfind(':') + 1)));
    auto server = connect_to_loopback(port);
    relay(client, server.get());
  }

  // The destination, or "" once it answered a refusal.
  std::string http_request(int client) {
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      auto more = receive(client, 1);
      if (more.empty()) return "";
      head += more;
    }
    auto expected = "Proxy-Authorization: Basic " + base64_encode(m_user + ":" + m_password) + "\r\n";
    if (head.find(expected) == std::string::npos) {
      std::string refusal = "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
      send_all(client, refusal.data(), refusal.size());
      return "";
    }
    auto target = head.substr(8, head.find(' ', 8) - 8);  // "CONNECT " target " HTTP/1.1"
    std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    send_all(client, ok.data(), ok.size());
    return target;
  }

  std::string socks_request(int client) {
    auto greeting = receive(client, 3);  // 05 01 02
    send_bytes(client, {5, 2});
    auto version = receive(client, 2);
    if (version.size() < 2) return "";
    auto user = receive(client, static_cast<uint8_t>(version[1]));
    auto password = receive(client, static_cast<uint8_t>(receive(client, 1)[0]));
    bool right = user == m_user && password == m_password;
    send_bytes(client, {1, static_cast<uint8_t>(right ? 0 : 1)});
    if (!right) return "";
    auto request = receive(client, 5);  // 05 01 00 03 length
    if (request.size() < 5 || request[3] != 3) return "";
    auto name = receive(client, static_cast<uint8_t>(request[4]));
    auto port = receive(client, 2);
    send_bytes(client, {5, 0, 0, 1, 0, 0, 0, 0, 0, 0});
    return name + ":" + std::to_string((static_cast<uint8_t>(port[0]) << 8) | static_cast<uint8_t>(port[1]));
  }

  static void relay(int a, int b) {
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char chunk[65536];
    while (::poll(fds, 2, 5000) > 0) {
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = ::recv(fds[i].fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        send_all(fds[1 - i].fd, chunk, static_cast<size_t>(n));
      }
    }
  }

  UpstreamProxy::Scheme m_scheme;
  std::string m_user, m_password;
  UniqueFd m_listener;
  std::atomic<size_t> m_accepted{0};
  std::mutex m_mutex;
  std::vector<std::string> m_destinations;
  std::thread m_accepting;
  std::vector<std::thread> m_workers;
};

}  // namespace corral::testing
