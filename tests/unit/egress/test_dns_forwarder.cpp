// The DNS forwarder with real sockets: a "session" UDP socket and TCP
// listener on 127.0.0.1 (what corrald makes in a session's namespace), and
// fake resolvers on 127.0.0.1 that answer each query with its own bytes,
// marked a response, or stay silent.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include "socks_client.hpp"
#include "corral/egress/dns_forwarder.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono_literals;

namespace {

UniqueFd udp_on_loopback(uint16_t& port) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto address = session_loopback(0);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

Bytes query(uint8_t id) { return {0x12, id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}; }

// Answers each UDP query (unless silent) with the query marked a response.
struct FakeResolver {
  explicit FakeResolver(bool silent = false) : fd(udp_on_loopback(port)), silent(silent) {
    timeval wait{0, 100000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    thread = std::thread([this] {
      while (!stopping) {
        uint8_t message[512];
        sockaddr_in from{};
        socklen_t length = sizeof from;
        ssize_t n = ::recvfrom(fd.get(), message, sizeof message, 0, reinterpret_cast<sockaddr*>(&from), &length);
        if (n <= 0) continue;
        ++received;
        message[2] |= 0x80;
        if (!this->silent) ::sendto(fd.get(), message, n, 0, reinterpret_cast<sockaddr*>(&from), length);
      }
    });
  }
  ~FakeResolver() {
    stopping = true;
    thread.join();
  }
  IpEndpoint endpoint() const { return {IpAddress::v4(127, 0, 0, 1), port}; }

  uint16_t port = 0;
  UniqueFd fd;
  bool silent;
  std::atomic<int> received{0};
  std::atomic<bool> stopping{false};
  std::thread thread;
};

struct ServedForwarder {
  explicit ServedForwarder(std::vector<IpEndpoint> resolvers, DnsLimits limits = {})
      : forwarder(std::move(resolvers), limits) {
    auto seen = [this](uint64_t bytes_in, uint64_t bytes_out) {
      seen_in += bytes_in;
      seen_out += bytes_out;
    };
    REQUIRE(forwarder.serve("s1", udp_on_loopback(udp_port), listen_on_loopback(tcp_port, 8), seen));
  }
  DnsCounters counters() { return *forwarder.counters("s1"); }

  uint16_t udp_port = 0, tcp_port = 0;
  std::atomic<uint64_t> seen_in{0}, seen_out{0};  ///< as the bytes_seen callback heard them
  DnsForwarder forwarder;
};

// Send `message` to the session's UDP port; the reply, or "" after 3 s.
std::string ask_udp(uint16_t port, const Bytes& message) {
  uint16_t ignored;
  auto fd = udp_on_loopback(ignored);
  auto to = session_loopback(port);
  ::sendto(fd.get(), message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd readable{fd.get(), POLLIN, 0};
  if (::poll(&readable, 1, 3000) != 1) return "";
  char reply[512];
  ssize_t n = ::recv(fd.get(), reply, sizeof reply, 0);
  return n > 0 ? std::string(reply, n) : "";
}

std::string as_text(Bytes bytes) { return std::string(bytes.begin(), bytes.end()); }

Bytes answer_to(Bytes query) {
  query[2] |= 0x80;
  return query;
}

}  // namespace

TEST_CASE("DNS forwarder: a UDP query goes to the resolver unchanged and its answer comes back") {
  FakeResolver resolver;
  ServedForwarder served({resolver.endpoint()});
  CHECK(ask_udp(served.udp_port, query(1)) == as_text(answer_to(query(1))));
  CHECK(resolver.received == 1);
  REQUIRE(eventually([&] { return served.counters().in_flight == 0; }));
  CHECK(served.counters().answered == 1);
  CHECK(served.counters().failed == 0);
}

TEST_CASE("DNS forwarder: a silent resolver is given up on, and the next one asked") {
  FakeResolver silent(true), answering;
  ServedForwarder served({silent.endpoint(), answering.endpoint()}, DnsLimits{.timeout = 300ms});
  CHECK(ask_udp(served.udp_port, query(2)) == as_text(answer_to(query(2))));
  CHECK(silent.received == 1);
  CHECK(answering.received == 1);
  ServedForwarder alone({silent.endpoint()}, DnsLimits{.timeout = 200ms});
  CHECK(ask_udp(alone.udp_port, query(3)).empty());
  REQUIRE(eventually([&] { return alone.counters().failed == 1; }));
  CHECK(alone.counters().answered == 0);
}

TEST_CASE("DNS forwarder: what is not a query is dropped, not forwarded") {
  FakeResolver resolver;
  ServedForwarder served({resolver.endpoint()});
  CHECK(ask_udp(served.udp_port, answer_to(query(4))).empty());  // a response, sent as if a query
  CHECK(ask_udp(served.udp_port, Bytes{1, 2, 3}).empty());       // shorter than a header
  CHECK(served.counters().dropped == 2);
  CHECK(resolver.received == 0);
}

TEST_CASE("DNS forwarder: a TCP query, length first, is answered over TCP") {
  // The resolver's TCP side: one connection, one query, answered.
  uint16_t resolver_port = 0;
  auto listener = listen_on_loopback(resolver_port, 4);
  std::thread resolver([&] {
    UniqueFd connection(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    auto length = receive(connection.get(), 2);
    auto message = receive(connection.get(), size_t(uint8_t(length[0])) << 8 | uint8_t(length[1]));
    message[2] = static_cast<char>(message[2] | 0x80);
    send_all(connection.get(), length.data(), 2);
    send_all(connection.get(), message.data(), message.size());
  });
  ServedForwarder served({{IpAddress::v4(127, 0, 0, 1), resolver_port}});
  auto asker = connect_to_loopback(served.tcp_port);
  Bytes framed{0, static_cast<uint8_t>(query(5).size())};
  for (auto byte : query(5)) framed.push_back(byte);
  send_bytes(asker.get(), framed);
  CHECK(receive(asker.get(), 2) == std::string{'\0', static_cast<char>(query(5).size())});
  CHECK(receive(asker.get(), query(5).size()) == as_text(answer_to(query(5))));
  resolver.join();
  CHECK(served.counters().answered == 1);
}

TEST_CASE("DNS forwarder: stop closes the session's sockets and keeps its last counts") {
  FakeResolver resolver;
  ServedForwarder served({resolver.endpoint()});
  CHECK(!ask_udp(served.udp_port, query(6)).empty());
  auto last = served.forwarder.stop("s1");
  REQUIRE(last);
  CHECK(last->answered == 1);
  CHECK_FALSE(served.forwarder.counters("s1"));
  CHECK(ask_udp(served.udp_port, query(7)).empty());
}

TEST_CASE("DNS forwarder: a query's and its answer's bytes are counted and told, a failed one's query only") {
  FakeResolver resolver;
  ServedForwarder served({resolver.endpoint()});
  auto asked = query(7);
  REQUIRE(ask_udp(served.udp_port, asked) == as_text(answer_to(asked)));
  REQUIRE(eventually([&] { return served.counters().in_flight == 0; }));
  CHECK(served.counters().bytes_out == asked.size());
  CHECK(served.counters().bytes_in == asked.size());  // the fake answers with the query, flagged
  CHECK(served.seen_out == asked.size());
  CHECK(served.seen_in == asked.size());
  FakeResolver silent(true);
  ServedForwarder unanswered({silent.endpoint()}, DnsLimits{.timeout = 200ms});
  CHECK(ask_udp(unanswered.udp_port, asked).empty());
  REQUIRE(eventually([&] { return unanswered.counters().failed == 1; }));
  CHECK(unanswered.counters().bytes_out == asked.size());
  CHECK(unanswered.counters().bytes_in == 0);
  CHECK(unanswered.seen_in == 0);
}
