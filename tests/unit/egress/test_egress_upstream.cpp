// The egress relay with an upstream proxy: a SOCKS5 client in the test
// (the session's Chrome) asks the relay for a destination by name; the
// relay carries it through a small proxy in the test (HTTP CONNECT or
// SOCKS5, checking a credential) to an echo server. The name reaches the
// proxy as the page gave it; a wrong credential fails that connection
// only; the policy judges the proxy's address and any literal destination.
#include <doctest/doctest.h>

#include "upstream_proxy_server.hpp"
#include "corral/egress/egress_relay.hpp"
#include "corral/egress/egress_rule.hpp"
#include "corral/egress/proxy_admission.hpp"
#include "corral/egress/socks5.hpp"

using namespace corral;
using namespace corral::testing;

namespace {

// 127.0.0.1 is the world here (proxy and echo server listen there); a
// policy that calls one more address the host's own refuses it.
EgressPolicy policy_refusing(std::optional<IpAddress> local = std::nullopt) {
  return EgressPolicy({}, [local](const IpAddress& address) { return local && address == *local; });
}

struct ProxiedRelay {
  ProxiedRelay(EgressPolicy policy, const std::string& proxy_url, EgressLists narrowing = {})
      : relay(std::move(policy)) {
    EgressSession session;
    session.narrowing = std::move(narrowing);
    session.proxy = std::make_shared<const UpstreamProxy>(*parse_upstream_proxy(proxy_url));
    REQUIRE(session.uses_upstream_proxy());
    REQUIRE(relay.serve("s1", listen_on_loopback(port, 16), session));
  }
  EgressCounters counters() { return *relay.counters("s1"); }

  uint16_t port = 0;
  EgressRelay relay;
};

std::string url(const char* scheme, const char* credential, uint16_t port) {
  return std::string(scheme) + "://" + credential + "@127.0.0.1:" + std::to_string(port);
}

void check_echo_through(uint16_t relay_port, uint16_t echo_port) {
  UniqueFd page;
  REQUIRE(socks_connect(relay_port, connect_request("world.invalid", echo_port), page) == 0);
  send_all(page.get(), "through", 7);
  CHECK(receive(page.get(), 7) == "through");
}

}  // namespace

TEST_CASE("through an HTTP proxy: the name goes to it unresolved, with the credential, and bytes flow") {
  EchoServer echo;
  UpstreamProxyServer proxy(UpstreamProxy::Scheme::http, "alice", "s3cret");
  ProxiedRelay served(policy_refusing(), url("http", "alice:s3cret", proxy.port));
  check_echo_through(served.port, echo.port);
  CHECK(proxy.destinations() == std::vector<std::string>{"world.invalid:" + std::to_string(echo.port)});
  REQUIRE(eventually([&] { return served.counters().bytes_in == 7; }));  // counted once delivered
  CHECK(served.counters().connections == 1);
}

TEST_CASE("through a SOCKS5 proxy with username/password") {
  EchoServer echo;
  UpstreamProxyServer proxy(UpstreamProxy::Scheme::socks5, "bob", "pw");
  ProxiedRelay served(policy_refusing(), url("socks5", "bob:pw", proxy.port));
  check_echo_through(served.port, echo.port);
  CHECK(proxy.destinations() == std::vector<std::string>{"world.invalid:" + std::to_string(echo.port)});
}

TEST_CASE("a wrong credential fails the page's connection, counted, and the next connection is served as well") {
  for (auto scheme : {UpstreamProxy::Scheme::http, UpstreamProxy::Scheme::socks5}) {
    CAPTURE(upstream_proxy_scheme_name(scheme));
    EchoServer echo;
    UpstreamProxyServer proxy(scheme, "alice", "right");
    ProxiedRelay served(policy_refusing(), url(upstream_proxy_scheme_name(scheme), "alice:wrong", proxy.port));
    for (int attempt = 0; attempt < 2; ++attempt) {
      UniqueFd page;
      CHECK(socks_connect(served.port, connect_request("world.invalid", echo.port), page) ==
            static_cast<int>(socks5::Reply::general_failure));
      CHECK(closed_by_peer(page.get()));
    }
    REQUIRE(eventually([&] { return served.counters().proxy_refused == 2; }));
    CHECK(served.counters().connections == 0);
    CHECK(echo.accepted() == 0);
  }
}

TEST_CASE("a literal destination the policy refuses never reaches the proxy") {
  UpstreamProxyServer proxy(UpstreamProxy::Scheme::http, "alice", "pw");
  ProxiedRelay served(policy_refusing(IpAddress::v4(127, 0, 0, 2)), url("http", "alice:pw", proxy.port));
  UniqueFd page;
  CHECK(socks_connect(served.port, connect_request(127, 0, 0, 2, 80), page) ==
        static_cast<int>(socks5::Reply::not_allowed));
  CHECK(served.counters().refused_for(EgressReason::local) == 1);
  CHECK(proxy.accepted() == 0);
}

TEST_CASE("a literal destination the session's own deny list names never reaches the proxy") {
  UpstreamProxyServer proxy(UpstreamProxy::Scheme::http, "alice", "pw");
  EgressLists narrowing;
  narrowing.deny.push_back(*parse_egress_rule("198.51.100.7"));
  ProxiedRelay served(policy_refusing(), url("http", "alice:pw", proxy.port), narrowing);
  UniqueFd page;
  CHECK(socks_connect(served.port, connect_request(198, 51, 100, 7, 80), page) ==
        static_cast<int>(socks5::Reply::not_allowed));
  CHECK(served.counters().refused_for(EgressReason::session_policy) == 1);
  CHECK(proxy.accepted() == 0);
}

TEST_CASE("a session's allow list names destinations, not its proxy; its deny list holds for the proxy too") {
  EchoServer echo;
  UpstreamProxyServer proxy(UpstreamProxy::Scheme::http, "alice", "pw");
  EgressLists only_elsewhere;  // allows neither 127.0.0.1 (the proxy) nor the page's name
  only_elsewhere.allow.push_back(*parse_egress_rule("198.51.100.0/24"));
  ProxiedRelay allowing(policy_refusing(), url("http", "alice:pw", proxy.port), only_elsewhere);
  check_echo_through(allowing.port, echo.port);
  CHECK(allowing.counters().refused_for(EgressReason::session_policy) == 0);

  EgressLists denying_proxy;
  denying_proxy.deny.push_back(*parse_egress_rule("127.0.0.1"));
  ProxiedRelay denying(policy_refusing(), url("http", "alice:pw", proxy.port), denying_proxy);
  UniqueFd page;
  CHECK(socks_connect(denying.port, connect_request("world.invalid", echo.port), page) ==
        static_cast<int>(socks5::Reply::not_allowed));
  CHECK(denying.counters().refused_for(EgressReason::session_policy) == 1);
  CHECK(proxy.accepted() == 1);  // the first relay's connection, and no other
}

TEST_CASE("a proxy on an address the policy refuses: not admitted, and never connected to") {
  UpstreamProxyServer proxy(UpstreamProxy::Scheme::http, "alice", "pw");
  auto refusing = policy_refusing(IpAddress::v4(127, 0, 0, 1));
  auto admitted = admit_upstream_proxy(refusing, *parse_upstream_proxy(url("http", "alice:pw", proxy.port)));
  REQUIRE_FALSE(admitted);
  CHECK(admitted.error().code == EBADMSG);
  CHECK(admitted.error().message.find("alice:***@127.0.0.1") != std::string::npos);
  CHECK(admitted.error().message.find("pw@") == std::string::npos);
  CHECK(admit_upstream_proxy(policy_refusing(), *parse_upstream_proxy(url("http", "alice:pw", proxy.port))));
  ProxiedRelay served(std::move(refusing), url("http", "alice:pw", proxy.port));
  UniqueFd page;
  CHECK(socks_connect(served.port, connect_request("world.invalid", 80), page) ==
        static_cast<int>(socks5::Reply::not_allowed));
  CHECK(served.counters().refused_for(EgressReason::local) == 1);
  CHECK(proxy.accepted() == 0);
}
