// The egress relay with real sockets: a SOCKS5 client in the test talks to
// a relay serving a listener on 127.0.0.1, which connects (or refuses to)
// to a test server on 127.0.0.1. No network namespace is needed: the
// policy's question "is this address the host's own?" is the test's to
// answer, so that the loopback server counts as the world in one test and
// as the host in another.
#include <doctest/doctest.h>

#include "socks_client.hpp"
#include "corral/egress/egress_relay.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono_literals;

namespace {

EgressPolicy::IsLocal nothing_is_local() {
  return [](const IpAddress&) { return false; };
}

EgressPolicy::IsLocal loopback_is_local() {
  return [](const IpAddress& address) { return address.is_v4() ? address.bytes[0] == 127 : address.bytes[15] == 1; };
}

// A relay serving session "s1" on a listener of its own on 127.0.0.1.
struct ServedRelay {
  explicit ServedRelay(EgressPolicy policy, EgressLimits limits = {}, EgressSession session = {}, size_t threads = 2)
      : relay(std::move(policy), limits, threads) {
    auto listener = listen_on_loopback(port, 64);
    REQUIRE(relay.serve("s1", std::move(listener), session));
  }
  EgressCounters counters() { return *relay.counters("s1"); }

  uint16_t port = 0;
  EgressRelay relay;
};

}  // namespace

TEST_CASE("CONNECT by IPv4 relays bytes both ways and counts them") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, nothing_is_local()));
  UniqueFd page;
  REQUIRE(socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), page) == 0);
  send_all(page.get(), "hello", 5);
  CHECK(receive(page.get(), 5) == "hello");
  std::string large(3 << 20, 'x');  // past every buffer on the way, so that both directions wait on each other
  for (size_t i = 0; i < large.size(); i += 4093) large[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] { send_all(page.get(), large.data(), large.size()); });
  CHECK(receive(page.get(), large.size()) == large);
  writer.join();
  ::shutdown(page.get(), SHUT_WR);
  CHECK(closed_by_peer(page.get()));  // the server's end came through as the page's EOF
  REQUIRE(eventually([&] { return served.counters().open == 0; }));
  auto counted = served.counters();
  CHECK(counted.connections == 1);
  CHECK(counted.bytes_out == large.size() + 5);
  CHECK(counted.bytes_in == large.size() + 5);
  CHECK(server.accepted() == 1);
}

TEST_CASE("a client that sends greeting, request and its first bytes at once loses none of them") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, nothing_is_local()));
  auto page = connect_to_loopback(served.port);
  Bytes all = {5, 1, 0};
  auto request = connect_request(127, 0, 0, 1, server.port);
  all.insert(all.end(), request.begin(), request.end());
  for (char c : std::string("early")) all.push_back(static_cast<uint8_t>(c));
  send_bytes(page.get(), all);
  CHECK(receive(page.get(), 2) == std::string("\x05\x00", 2));
  auto reply = receive(page.get(), 10);
  REQUIRE(reply.size() == 10);
  CHECK(reply[1] == 0);
  CHECK(receive(page.get(), 5) == "early");
  CHECK(served.counters().bytes_out == 5);
}

// The download direction raises SO_RCVLOWAT while it streams (read_batching):
// the bytes that follow a stream, short of the batch, must still come at once.
TEST_CASE("a stream sent 2 KB at a time comes through whole, and the short answer after it is not held back") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, nothing_is_local()));
  UniqueFd page;
  REQUIRE(socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), page) == 0);
  std::string stream(1 << 20, 's');
  for (size_t i = 0; i < stream.size(); i += 997) stream[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] {
    for (size_t i = 0; i < stream.size(); i += 2048) send_all(page.get(), stream.data() + i, 2048);
  });
  CHECK(receive(page.get(), stream.size()) == stream);
  writer.join();
  for (int exchange = 0; exchange < 5; ++exchange) {
    auto asked = std::chrono::steady_clock::now();
    send_all(page.get(), "tail", 4);
    CHECK(receive(page.get(), 4) == "tail");
    // 5 s would be the socket's patience running out: a tail waiting for
    // bytes that never come. The batching's own bound is 1 ms.
    CHECK(std::chrono::steady_clock::now() - asked < 500ms);
  }
}

TEST_CASE("an address the host calls its own is refused with 0x02, counted, and never connected to") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, loopback_is_local()));
  UniqueFd page;
  CHECK(socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), page) == 2);
  CHECK(closed_by_peer(page.get()));
  CHECK(socks_connect(served.port, connect_request(10, 0, 0, 1, server.port), page) == 2);
  CHECK(socks_connect(served.port, connect_request(169, 254, 169, 254, 80), page) == 2);
  auto counted = served.counters();
  CHECK(counted.refused_for(EgressReason::local) == 1);
  CHECK(counted.refused_for(EgressReason::private_range) == 1);
  CHECK(counted.refused_for(EgressReason::link_local) == 1);
  CHECK(counted.connections == 0);
  CHECK(server.accepted() == 0);
}

TEST_CASE("CONNECT by an IPv4-mapped IPv6 address is judged as, and reaches, the IPv4 address") {
  EchoServer server;
  Bytes mapped = {5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1,
                  static_cast<uint8_t>(server.port >> 8), static_cast<uint8_t>(server.port & 0xff)};
  ServedRelay refusing(EgressPolicy({}, loopback_is_local()));
  UniqueFd page;
  CHECK(socks_connect(refusing.port, mapped, page) == 2);
  CHECK(refusing.counters().refused_for(EgressReason::local) == 1);
  ServedRelay letting(EgressPolicy({}, nothing_is_local()));
  REQUIRE(socks_connect(letting.port, mapped, page) == 0);
  send_all(page.get(), "v6", 2);
  CHECK(receive(page.get(), 2) == "v6");
  CHECK(server.accepted() == 1);
}

TEST_CASE("a name is resolved by the relay and judged on its addresses: localhost refused when local is") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, loopback_is_local()));
  UniqueFd page;
  CHECK(socks_connect(served.port, connect_request("localhost", server.port), page) == 2);
  CHECK(socks_connect(served.port, connect_request("127.0.0.1", server.port), page) == 2);  // a literal as a name
  CHECK(served.counters().refused_for(EgressReason::local) == 2);
  CHECK(server.accepted() == 0);
}

TEST_CASE("a name whose addresses are allowed connects to the first that answers") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, nothing_is_local()));
  UniqueFd page;
  REQUIRE(socks_connect(served.port, connect_request("localhost", server.port), page) == 0);
  send_all(page.get(), "ping", 4);
  CHECK(receive(page.get(), 4) == "ping");
  CHECK(served.counters().connections == 1);
  CHECK(server.accepted() == 1);
}

TEST_CASE("a name that does not resolve is host unreachable, counted apart from refusals") {
  ServedRelay served(EgressPolicy({}, nothing_is_local()));
  UniqueFd page;
  CHECK(socks_connect(served.port, connect_request("no-such-host.invalid", 80), page) == 4);
  CHECK(served.counters().unreachable == 1);
}

TEST_CASE("the operator's allow lets the host's loopback through, but never corrald's own port") {
  EchoServer server, corrald;
  EgressPolicy::Rules rules{{*Cidr::parse("127.0.0.0/8")}, {{IpAddress::v4(127, 0, 0, 1), corrald.port}}};
  ServedRelay served{EgressPolicy(rules)};  // the real kernel: 127.0.0.1 is local
  UniqueFd page, other;
  REQUIRE(socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), page) == 0);
  send_all(page.get(), "dev", 3);
  CHECK(receive(page.get(), 3) == "dev");
  CHECK(socks_connect(served.port, connect_request(127, 0, 0, 1, corrald.port), other) == 2);
  CHECK(served.counters().refused_for(EgressReason::corral_itself) == 1);
  CHECK(corrald.accepted() == 0);
}

TEST_CASE("BIND, UDP ASSOCIATE and unknown address types are answered as unsupported") {
  ServedRelay served(EgressPolicy({}, nothing_is_local()));
  UniqueFd page;
  CHECK(socks_connect(served.port, connect_request(198, 51, 100, 7, 80, 2), page) == 7);
  CHECK(closed_by_peer(page.get()));
  CHECK(socks_connect(served.port, connect_request(0, 0, 0, 0, 0, 3), page) == 7);
  CHECK(socks_connect(served.port, {5, 1, 0, 9, 1, 2, 3, 4, 0, 80}, page) == 8);
  CHECK(served.counters().unsupported == 3);
}

TEST_CASE("what is not a SOCKS5 handshake is closed without a word") {
  ServedRelay served(EgressPolicy({}, nothing_is_local()), EgressLimits{.handshake_timeout = 300ms});
  auto http = connect_to_loopback(served.port);
  send_all(http.get(), "GET / HTTP/1.1\r\n\r\n", 18);
  CHECK(receive(http.get(), 1).empty());
  auto password_only = connect_to_loopback(served.port);
  send_bytes(password_only.get(), {5, 1, 2});
  CHECK(receive(password_only.get(), 3) == std::string("\x05\xff", 2));  // no acceptable method, then the end
  auto silent = connect_to_loopback(served.port);
  auto asked = std::chrono::steady_clock::now();
  CHECK(closed_by_peer(silent.get()));
  CHECK(std::chrono::steady_clock::now() - asked < 3s);  // the handshake deadline, not the test's patience
  CHECK(served.counters().bad_handshake == 3);
}

TEST_CASE("stop() closes the listener and every live connection of the session at once") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, nothing_is_local()));
  UniqueFd first, second;
  REQUIRE(socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), first) == 0);
  REQUIRE(socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), second) == 0);
  auto handshaking = connect_to_loopback(served.port);
  send_all(first.get(), "abc", 3);
  REQUIRE(receive(first.get(), 3) == "abc");
  auto last = served.relay.stop("s1");
  REQUIRE(last);
  CHECK(last->connections == 2);
  CHECK(last->bytes_out == 3);
  CHECK(last->open == 0);
  CHECK(closed_by_peer(first.get()));
  CHECK(closed_by_peer(second.get()));
  CHECK(closed_by_peer(handshaking.get()));
  UniqueFd late(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto address = session_loopback(served.port);
  CHECK(::connect(late.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0);
  CHECK_FALSE(served.relay.counters("s1"));
  CHECK_FALSE(served.relay.stop("s1"));
}

TEST_CASE("past its connection limit a session's new connection is closed at once") {
  ServedRelay served(EgressPolicy({}, nothing_is_local()), EgressLimits{.max_connections_per_session = 2});
  auto one = connect_to_loopback(served.port), two = connect_to_loopback(served.port);
  REQUIRE(eventually([&] { return served.counters().open == 2; }));
  auto three = connect_to_loopback(served.port);
  CHECK(closed_by_peer(three.get()));
  CHECK(served.counters().over_limit == 1);
  one.reset();
  REQUIRE(eventually([&] { return served.counters().open == 1; }));
  UniqueFd four;
  CHECK(socks_connect(served.port, connect_request(198, 51, 100, 7, 9, 2), four) == 7);  // room again
}

TEST_CASE("a relayed connection silent both ways past the idle timeout is closed") {
  EchoServer server;
  ServedRelay served(EgressPolicy({}, nothing_is_local()), EgressLimits{.idle_timeout = 300ms});
  UniqueFd page;
  REQUIRE(socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), page) == 0);
  auto opened = std::chrono::steady_clock::now();
  CHECK(closed_by_peer(page.get()));
  CHECK(std::chrono::steady_clock::now() - opened < 3s);
}

TEST_CASE("outbound sockets belong to the session's uid, so the server never sees root") {
  EchoServer server;
  const uid_t session_uid = 60123;
  // One thread, so that the second session below is served by the thread that served the first.
  ServedRelay served(EgressPolicy({}, nothing_is_local()), {}, EgressSession{session_uid}, 1);
  UniqueFd page;
  int reply = socks_connect(served.port, connect_request(127, 0, 0, 1, server.port), page);
  if (::geteuid() != 0) {  // an unprivileged relay must refuse rather than connect as itself
    CHECK(reply == 1);
    CHECK(server.accepted() == 0);
    return;
  }
  REQUIRE(reply == 0);
  send_all(page.get(), "who", 3);
  REQUIRE(receive(page.get(), 3) == "who");
  auto owners = server.peer_uids();
  REQUIRE(owners.size() == 1);
  REQUIRE(owners[0].has_value());
  CHECK(*owners[0] == session_uid);
  // And the relay's thread is corrald's again afterwards: a session without a uid connects as root.
  uint16_t plain_port = 0;
  REQUIRE(served.relay.serve("s2", listen_on_loopback(plain_port), {}));
  REQUIRE(socks_connect(plain_port, connect_request(127, 0, 0, 1, server.port), page) == 0);
  send_all(page.get(), "me", 2);
  REQUIRE(receive(page.get(), 2) == "me");
  CHECK(server.peer_uids().at(1) == uid_t{0});
}

TEST_CASE("serve() takes a listening socket, once per session") {
  EgressRelay relay(EgressPolicy({}, nothing_is_local()));
  UniqueFd not_listening(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto refused = relay.serve("s1", std::move(not_listening), {});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == EINVAL);
  uint16_t port = 0;
  REQUIRE(relay.serve("s1", listen_on_loopback(port), {}));
  auto twice = relay.serve("s1", listen_on_loopback(port), {});
  REQUIRE_FALSE(twice);
  CHECK(twice.error().code == EEXIST);
  CHECK(relay.counters("s1"));
}
