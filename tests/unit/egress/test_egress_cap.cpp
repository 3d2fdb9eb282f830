// A session's byte cap at the relay, with real sockets: pages push bytes
// through an echo server until the relay ends them.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "socks_client.hpp"
#include "corral/egress/egress_relay.hpp"

using namespace corral;
using namespace corral::testing;

namespace {

constexpr uint64_t kMiB = 1 << 20;

EgressPolicy allow_everything() {
  return EgressPolicy({}, [](const IpAddress&) { return false; });
}

// Sends `total` bytes (or until the relay cuts it off) while reading the
// echo back; returns the bytes it got back.
size_t push_through(int fd, size_t total) {
  std::thread writer([fd, total] {
    std::string chunk(64 * 1024, 'x');
    for (size_t sent = 0; sent < total;) {
      ssize_t n = ::send(fd, chunk.data(), std::min(chunk.size(), total - sent), MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  });
  size_t got = 0;
  char buffer[65536];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) got += static_cast<size_t>(n);
  ::shutdown(fd, SHUT_RDWR);  // a writer blocked on a full buffer ends too
  writer.join();
  return got;
}

}  // namespace

TEST_CASE("a session past its byte cap has every connection closed, is told once, and relays nothing more") {
  EchoServer server;
  uint16_t port = 0;
  EgressRelay relay(allow_everything());
  REQUIRE(relay.serve("s1", listen_on_loopback(port, 64), EgressSession{}));
  std::atomic<int> told{0};
  const uint64_t cap = 2 * kMiB;
  REQUIRE(relay.cap("s1", cap, [&] { ++told; }));
  UniqueFd first, second;
  REQUIRE(socks_connect(port, connect_request(127, 0, 0, 1, server.port), first) == 0);
  REQUIRE(socks_connect(port, connect_request(127, 0, 0, 1, server.port), second) == 0);
  std::thread other([&] { push_through(second.get(), 16 * kMiB); });
  push_through(first.get(), 16 * kMiB);
  other.join();
  REQUIRE(eventually([&] { return told.load() == 1; }));
  auto counts = *relay.counters("s1");
  uint64_t moved = counts.bytes_in + counts.bytes_out;
  CHECK(moved > cap);
  CHECK(moved <= cap + kMiB);  // the promise: at most max(1 MB, 1 %) past it
  CHECK(eventually([&] { return relay.counters("s1")->open == 0; }));  // each forgets itself just after its close
  UniqueFd late(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));  // its listener is closed too
  auto address = session_loopback(port);
  CHECK(::connect(late.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0);
  CHECK(relay.counters("s1")->bytes_in + relay.counters("s1")->bytes_out == moved);
  CHECK(told.load() == 1);
}

TEST_CASE("under its cap a session relays as before, and a cap for a session not served is ENOENT") {
  EchoServer server;
  uint16_t port = 0;
  EgressRelay relay(allow_everything());
  REQUIRE(relay.serve("s1", listen_on_loopback(port, 64), EgressSession{}));
  bool told = false;
  REQUIRE(relay.cap("s1", 64 * kMiB, [&] { told = true; }));
  UniqueFd page;
  REQUIRE(socks_connect(port, connect_request(127, 0, 0, 1, server.port), page) == 0);
  std::string large(4 * kMiB, 'y');
  std::thread writer([&] { send_all(page.get(), large.data(), large.size()); });
  CHECK(receive(page.get(), large.size()).size() == large.size());
  writer.join();
  CHECK_FALSE(told);
  // A turn's bytes are counted once splice returns, which may be just after
  // the page has read them.
  CHECK(eventually([&] {
    auto counts = *relay.counters("s1");
    return counts.bytes_out == large.size() && counts.bytes_in == large.size();
  }));
  auto missing = relay.cap("nobody", kMiB, [] {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ENOENT);
}

TEST_CASE("bytes counted elsewhere (a DNS forwarder) count against the same cap and end the session the same way") {
  uint16_t port = 0;
  EgressRelay relay(allow_everything());
  REQUIRE(relay.serve("s1", listen_on_loopback(port, 64), EgressSession{}));
  int told = 0;
  REQUIRE(relay.cap("s1", 1000, [&] { ++told; }));
  CHECK(relay.add_bytes("s1", 600, 400));  // at the cap: not past it
  CHECK(told == 0);
  CHECK(relay.add_bytes("s1", 1, 0));
  CHECK(told == 1);
  auto counts = *relay.counters("s1");
  CHECK(counts.bytes_in == 601);
  CHECK(counts.bytes_out == 400);
  auto address = session_loopback(port);
  REQUIRE(eventually([&] {  // its listener closes too
    UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return ::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0;
  }));
  CHECK_FALSE(relay.add_bytes("nobody", 1, 1));
}

// A warm browser handed out counts from zero (warm_pool.cpp): what it moved
// while it waited is not the client's, and its cap counts from the claim.
TEST_CASE("restart_counts counts a session from zero, and its cap from there") {
  uint16_t port = 0;
  EgressRelay relay(allow_everything());
  REQUIRE(relay.serve("s1", listen_on_loopback(port, 64), EgressSession{}));
  CHECK(relay.add_bytes("s1", 700, 200));
  CHECK(relay.restart_counts("s1"));
  auto counts = *relay.counters("s1");
  CHECK(counts.bytes_in == 0);
  CHECK(counts.bytes_out == 0);
  int told = 0;
  REQUIRE(relay.cap("s1", 1000, [&] { ++told; }));
  CHECK(relay.add_bytes("s1", 600, 400));  // 1,000 since the restart: at the cap, not past it
  CHECK(told == 0);
  CHECK(relay.add_bytes("s1", 1, 0));
  CHECK(told == 1);
  CHECK_FALSE(relay.restart_counts("nobody"));
}
