// OneShotServer: a TCP listener on 127.0.0.1 in the test, whose thread
// takes one connection, reads its request head and answers with canned
// bytes (or says nothing until the other side gives up), then closes: a
// browser's or chromedriver's port as the code under test meets it.
#pragma once

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <thread>

#include "loopback_listener.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral::testing {

class OneShotServer {
 public:
  /// With `answer` unset, the server reads and never answers.
  explicit OneShotServer(std::optional<std::string> answer) : m_answer(std::move(answer)) {
    m_listener = listen_on_loopback(port);
    m_thread = std::thread([this] { serve(); });
  }
  ~OneShotServer() { received(); }

  /// Once the exchange is over: the request head the server read.
  const std::string& received() {
    if (m_thread.joinable()) {
      ::shutdown(m_listener.get(), SHUT_RDWR);  // wakes accept() if no one came
      m_thread.join();
    }
    return m_request;
  }

  uint16_t port = 0;

 private:
  void serve() {
    UniqueFd connection(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection.valid()) return;
    char chunk[4096];
    ssize_t n;
    while (m_request.find("\r\n\r\n") == std::string::npos && (n = ::recv(connection.get(), chunk, sizeof chunk, 0)) > 0)
      m_request.append(chunk, static_cast<size_t>(n));
    if (!m_answer) {
      while (::recv(connection.get(), chunk, sizeof chunk, 0) > 0) {}  // until the client gives up
      return;
    }
    for (size_t sent = 0; sent < m_answer->size(); sent += static_cast<size_t>(n))
      if ((n = ::send(connection.get(), m_answer->data() + sent, m_answer->size() - sent, MSG_NOSIGNAL)) <= 0) return;
  }

  UniqueFd m_listener;
  std::string m_request;
  std::optional<std::string> m_answer;
  std::thread m_thread;
};

}  // namespace corral::testing
