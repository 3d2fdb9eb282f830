// The session connector and the launcher's one-request exchange, against
// listeners of the test's own on 127.0.0.1.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "loopback_listener.hpp"
#include "one_shot_server.hpp"
#include "corral/net/loopback_http.hpp"
#include "corral/net/session_connector.hpp"

using namespace corral;
using namespace std::chrono;
using testing::OneShotServer;

namespace {

// A port on 127.0.0.1 that nothing listens on (it did a moment ago).
uint16_t closed_port() {
  uint16_t port = 0;
  testing::listen_on_loopback(port);
  return port;
}

uint16_t local_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return ntohs(address.sin_port);
}

std::string answer(const std::string& status, const std::string& body) {
  return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("the connector reaches a listener on the session's loopback") {
  CHECK(session_loopback(9222).sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  CHECK(session_loopback(9222).sin_port == htons(9222));
  uint16_t port = 0;
  auto listener = testing::listen_on_loopback(port);
  auto connected = connect_to_session(SessionNetwork{}, port, seconds(1));
  REQUIRE(connected.ok());
  sockaddr_in peer{};
  socklen_t length = sizeof peer;
  UniqueFd accepted(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC));
  REQUIRE(accepted.valid());
  CHECK(ntohs(peer.sin_port) == local_port(connected->get()));  // the very connection the connector made
}

TEST_CASE("the connector reports a closed port as ECONNREFUSED") {
  auto refused = connect_to_session(SessionNetwork{}, closed_port(), seconds(1));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ECONNREFUSED);
}

TEST_CASE("the connector gives up on a port that does not answer, after its timeout") {
  // A listener that never accepts, its queue full: the kernel drops further
  // SYNs, so a connect waits (as to a browser too busy to answer).
  uint16_t port = 0;
  auto listener = testing::listen_on_loopback(port, 0);
  std::vector<UniqueFd> queued;
  for (int i = 0; i < 4; ++i) {
    auto filler = session_socket(SessionNetwork{});
    REQUIRE(filler.ok());
    auto to = session_loopback(port);
    ::connect(filler->get(), reinterpret_cast<sockaddr*>(&to), sizeof to);
    queued.push_back(std::move(*filler));
  }
  ::usleep(100'000);
  auto started = steady_clock::now();
  auto waited = connect_to_session(SessionNetwork{}, port, milliseconds(300));
  auto took = steady_clock::now() - started;
  REQUIRE_FALSE(waited.ok());
  CHECK(waited.error().code == ETIMEDOUT);
  CHECK(took >= milliseconds(250));
  CHECK(took < seconds(2));
}

TEST_CASE("a loopback GET brings back the status and body, and names the port as Host") {
  OneShotServer server(answer("200 OK", R"({"Browser":"HeadlessChrome/1"})"));
  auto got = loopback_get(SessionNetwork{}, server.port, "/json/version");
  REQUIRE(got.ok());
  CHECK(got->status == 200);
  CHECK(got->body == R"({"Browser":"HeadlessChrome/1"})");
  const auto& request = server.received();
  CHECK(request.starts_with("GET /json/version HTTP/1.1\r\n"));
  CHECK(request.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port) + "\r\n") != std::string::npos);
}

TEST_CASE("a loopback GET hands back a status other than 200 as it came") {
  OneShotServer server(answer("404 Not Found", "{}"));
  auto got = loopback_get(SessionNetwork{}, server.port, "/status");
  REQUIRE(got.ok());
  CHECK(got->status == 404);
}

TEST_CASE("a loopback GET refuses what is not HTTP, an answer cut short, and one beyond its bound") {
  SUBCASE("garbage") {
    OneShotServer server(std::string("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    auto got = loopback_get(SessionNetwork{}, server.port, "/json/version");
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == EBADMSG);
  }
  SUBCASE("cut short") {
    OneShotServer server(std::string("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":"));
    auto got = loopback_get(SessionNetwork{}, server.port, "/json/version");
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == EBADMSG);
  }
  SUBCASE("oversize") {
    OneShotServer server(answer("200 OK", "[" + std::string(2 << 20, ' ') + "]"));
    auto got = loopback_get(SessionNetwork{}, server.port, "/json/version");
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == E2BIG);
  }
}

TEST_CASE("a loopback GET gives up on a port that says nothing, and on a closed one") {
  LoopbackLimits limits;
  limits.answer_timeout = milliseconds(300);
  OneShotServer silent(std::nullopt);
  auto started = steady_clock::now();
  auto got = loopback_get(SessionNetwork{}, silent.port, "/json/version", limits);
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().code == ETIMEDOUT);
  CHECK(steady_clock::now() - started < seconds(2));
  auto refused = loopback_get(SessionNetwork{}, closed_port(), "/json/version");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ECONNREFUSED);
}
