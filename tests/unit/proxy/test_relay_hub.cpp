// RelayHub on real loopback sockets: bytes both ways, intact in bulk,
// messages carried while another relay of the same thread carries bulk,
// half-closes passed on, a failed check answered instead of relayed,
// close_group ending a relay at once, and an idle relay closed.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "loopback_listener.hpp"
#include "corral/proxy/relay_hub.hpp"
#include "fakes/manager_fixture.hpp"

using namespace corral;
using corral::testing::eventually;

namespace {

struct Listener {
  uint16_t port = 0;  // before fd, which sets it
  UniqueFd fd;
  Listener() : fd(testing::listen_on_loopback(port, 8)) {}
  UniqueFd accept() const { return UniqueFd(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC)); }
};

UniqueFd connect_to(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    sent += static_cast<size_t>(n);
  }
}

// Everything until EOF (or `limit` bytes), within 10 s.
std::string read_until_eof(int fd, size_t limit = SIZE_MAX) {
  std::string got;
  char buffer[65536];
  while (got.size() < limit) {
    pollfd watch{fd, POLLIN, 0};
    if (::poll(&watch, 1, 10000) <= 0) break;
    ssize_t n = ::recv(fd, buffer, std::min(sizeof buffer, limit - got.size()), 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  return got;
}

// A client connected to "corral", the socket corral would hand over, and
// the browser's side once the relay has connected.
struct Setup {
  Listener corral, browser;
  UniqueFd client, handed_over, browser_side;
  std::atomic<bool> ended{false};
  Setup() : client(connect_to(corral.port)), handed_over(corral.accept()) {}

  RelayHub::Plan plan(std::string first_bytes = "HEAD\n") {
    RelayHub::Plan plan;
    plan.client = std::move(handed_over);
    plan.group = "s1";
    plan.upstream_port = browser.port;
    plan.to_upstream = std::move(first_bytes);
    plan.failure_answer = [](const std::string& why) { return "REFUSED " + why; };
    plan.on_end = [this] { ended = true; };
    return plan;
  }
};

}  // namespace

TEST_CASE("a relay carries bytes both ways, in bulk intact, and passes half-closes on") {
  RelayHub hub(2);
  Setup s;
  hub.start(s.plan());
  s.browser_side = s.browser.accept();
  std::string bulk(20 << 20, '\0');
  for (size_t i = 0; i < bulk.size(); ++i) bulk[i] = static_cast<char>((i * 2654435761u) >> 24);
  auto to_browser = std::async(std::launch::async, [&] { return read_until_eof(s.browser_side.get()); });
  send_all(s.client.get(), bulk);
  ::shutdown(s.client.get(), SHUT_WR);  // the client is done sending
  CHECK(to_browser.get() == "HEAD\n" + bulk);
  send_all(s.browser_side.get(), "answer after the client's half-close");
  ::shutdown(s.browser_side.get(), SHUT_WR);
  CHECK(read_until_eof(s.client.get()) == "answer after the client's half-close");
  REQUIRE(eventually([&] { return s.ended.load() && hub.active() == 0; }));
}

TEST_CASE("on one hub thread, messages go back and forth on one relay while another carries bulk") {
  RelayHub hub(1);
  Setup bulk, chat;
  hub.start(bulk.plan(""));
  bulk.browser_side = bulk.browser.accept();
  hub.start(chat.plan(""));
  chat.browser_side = chat.browser.accept();
  // 64 MiB from the browser to a client that reads them as it likes: the
  // relay's writes to it fall short, and what is left waits in the relay.
  std::string big(64 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 24);
  auto received = std::async(std::launch::async, [&] { return read_until_eof(bulk.client.get()); });
  auto sent = std::async(std::launch::async, [&] {
    send_all(bulk.browser_side.get(), big);
    ::shutdown(bulk.browser_side.get(), SHUT_WR);
  });
  for (int i = 0; i < 2000; ++i) {  // each message whole, in order, answered before the next
    auto ping = "ping " + std::to_string(i) + "\n", pong = "pong " + std::to_string(i) + "\n";
    send_all(chat.client.get(), ping);
    REQUIRE(read_until_eof(chat.browser_side.get(), ping.size()) == ping);
    send_all(chat.browser_side.get(), pong);
    REQUIRE(read_until_eof(chat.client.get(), pong.size()) == pong);
  }
  sent.get();
  CHECK(received.get() == big);
}

TEST_CASE("a failed check is answered to the client and nothing reaches the browser") {
  RelayHub hub(1);
  Setup s;
  auto plan = s.plan();
  plan.check_upstream = [] { return Result<void>(Error::make(EPERM, "not the session's port")); };
  hub.start(std::move(plan));
  s.browser_side = s.browser.accept();
  CHECK(read_until_eof(s.client.get()) == "REFUSED not the session's port");
  CHECK(read_until_eof(s.browser_side.get()).empty());
  REQUIRE(eventually([&] { return s.ended.load(); }));
}

TEST_CASE("a closed port is answered to the client") {
  RelayHub hub(1);
  Setup s;
  auto plan = s.plan();
  plan.upstream_port = [] { Listener gone; return gone.port; }();
  hub.start(std::move(plan));
  CHECK(read_until_eof(s.client.get()).rfind("REFUSED the browser's DevTools port did not answer", 0) == 0);
}

TEST_CASE("close_group ends a relay at once, both sides") {
  RelayHub hub(1);
  Setup s;
  hub.start(s.plan());
  s.browser_side = s.browser.accept();
  CHECK(read_until_eof(s.browser_side.get(), 5) == "HEAD\n");
  hub.close_group("other");
  CHECK(hub.active() == 1);
  hub.close_group("s1");
  CHECK(read_until_eof(s.client.get()).empty());
  CHECK(read_until_eof(s.browser_side.get()).empty());
  REQUIRE(eventually([&] { return s.ended.load() && hub.active() == 0; }));
}

TEST_CASE("a relay through which nothing passes for idle_timeout closes and lets go of what it held") {
  RelayHub hub(1);
  Setup s;
  auto released = std::make_shared<std::atomic<bool>>(false);
  auto plan = s.plan();
  plan.idle_timeout = std::chrono::milliseconds(300);
  plan.held.push_back(std::shared_ptr<void>(nullptr, [released](void*) { *released = true; }));
  hub.start(std::move(plan));
  s.browser_side = s.browser.accept();
  CHECK(read_until_eof(s.browser_side.get(), 5) == "HEAD\n");
  for (int i = 0; i < 4; ++i) {  // bytes every 100 ms: past the timeout, still open
    send_all(s.client.get(), "x");
    CHECK(read_until_eof(s.browser_side.get(), 1) == "x");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK_FALSE(released->load());
  CHECK(read_until_eof(s.client.get()).empty());  // then silence: closed
  REQUIRE(eventually([&] { return s.ended.load() && released->load() && hub.active() == 0; }));
}

TEST_CASE("fetch: one HTTP exchange with a browser's port") {
  RelayHub hub(1);
  Listener browser;
  std::thread server([&] {
    auto connection = browser.accept();
    char buffer[4096];
    (void)!::recv(connection.get(), buffer, sizeof buffer, 0);
    send_all(connection.get(), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  });
  std::promise<Result<RelayHub::Fetched>> answer;
  hub.fetch(SessionNetwork{}, browser.port, nullptr, "GET /json/version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            [&](Result<RelayHub::Fetched> fetched) { answer.set_value(std::move(fetched)); });
  auto fetched = answer.get_future().get();
  server.join();
  REQUIRE(fetched);
  CHECK(fetched->status == 200);
  CHECK(fetched->content_type == "application/json");
  CHECK(fetched->body == "{}");
}

TEST_CASE("exchange: a session's commands share one kept connection, checked once; a closed one is replaced") {
  RelayHub hub(1);
  Listener driver;
  std::atomic<int> accepted{0}, checks{0};
  std::thread server([&] {
    // Two requests on the first connection, then it closes; one on the next.
    for (int connection = 0; connection < 2; ++connection) {
      auto client = driver.accept();
      ++accepted;
      for (int request = 0; request < (connection == 0 ? 2 : 1); ++request) {
        char buffer[4096];
        if (::recv(client.get(), buffer, sizeof buffer, 0) <= 0) break;
        send_all(client.get(), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n{\"v\"");
      }
    }
  });
  auto ask = [&] {
    std::promise<Result<RelayHub::Fetched>> answer;
    hub.exchange("s1", SessionNetwork{}, driver.port, [&] { ++checks; return success(); },
                 "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n", std::chrono::seconds(10),
                 1 << 20, [&](Result<RelayHub::Fetched> fetched) { answer.set_value(std::move(fetched)); });
    return answer.get_future().get();
  };
  for (int i = 0; i < 3; ++i) {
    auto fetched = ask();
    REQUIRE_MESSAGE(fetched, "exchange " << i);
    CHECK(fetched->body == "{\"v\"");
  }
  server.join();
  CHECK(accepted == 2);  // the third found the first connection closed, and made a new one
  CHECK(checks == 2);    // once per connection made
  hub.close_group("s1");
}

// On a kept connection the request leaves at once from the caller's thread
// as far as the socket takes it; the hub thread sends the rest.
TEST_CASE("exchange: a request larger than the socket takes at once arrives whole on a kept connection") {
  RelayHub hub(1);
  Listener driver;
  std::string body(8 << 20, 'b');
  std::vector<size_t> received;
  std::thread server([&] {
    auto client = driver.accept();
    for (int request = 0; request < 2; ++request) {
      std::string got;
      size_t head_end = std::string::npos;
      char buffer[65536];
      while (head_end == std::string::npos || got.size() < head_end + 4 + (request == 0 ? 0 : body.size())) {
        ssize_t n = ::recv(client.get(), buffer, sizeof buffer, 0);
        if (n <= 0) return;
        got.append(buffer, static_cast<size_t>(n));
        head_end = got.find("\r\n\r\n");
      }
      received.push_back(got.size() - head_end - 4);
      send_all(client.get(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  auto ask = [&](const std::string& content) {
    std::promise<Result<RelayHub::Fetched>> answer;
    hub.exchange("s1", SessionNetwork{}, driver.port, [] { return success(); },
                 "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nContent-Length: " +
                     std::to_string(content.size()) + "\r\n\r\n" + content,
                 std::chrono::seconds(10), 1 << 20,
                 [&](Result<RelayHub::Fetched> fetched) { answer.set_value(std::move(fetched)); });
    return answer.get_future().get();
  };
  REQUIRE(ask(""));    // makes the connection that is kept
  auto fetched = ask(body);  // over the kept one: most of it left after the first send
  REQUIRE(fetched);
  CHECK(fetched->body == "ok");
  server.join();
  CHECK(received == std::vector<size_t>{0, body.size()});
  hub.close_group("s1");
}
