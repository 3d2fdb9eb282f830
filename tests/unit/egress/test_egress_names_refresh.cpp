// The operator's and the sessions' names resolved again: a denied name
// that moves is denied at its new addresses, and a resolver's failure lifts
// nothing.
#include <doctest/doctest.h>

#include <map>

#include "socks_client.hpp"
#include "corral/egress/egress_names_refresh.hpp"

using namespace corral;
using namespace corral::testing;

namespace {

// A resolver whose answers the test changes between refreshes.
struct MovingNames {
  std::map<std::string, std::vector<IpAddress>> answers;
  NameResolver resolver() {
    return [this](const std::string& name) -> Result<std::vector<IpAddress>> {
      auto found = answers.find(name);
      if (found == answers.end() || found->second.empty()) return Error::make(EHOSTUNREACH, name + " does not resolve");
      return found->second;
    };
  }
};

EgressLists denying(const char* name) {
  EgressLists lists;
  lists.deny.push_back(*parse_egress_rule(name));
  return lists;
}

EgressPolicy policy_from(EgressLists lists, const NameResolver& resolver) {
  REQUIRE(resolve_names(lists, resolver));
  return EgressPolicy({lists.allow, {}, lists.deny}, [](const IpAddress&) { return false; });
}

EgressReason verdict(const EgressPolicy& policy, uint8_t last) {
  return policy.decide({IpAddress::v4(198, 51, 100, last), 443}).reason;
}

}  // namespace

TEST_CASE("a denied name that moves is denied at its new address, and no longer at its old one") {
  MovingNames names;
  names.answers["tracker.example"] = {IpAddress::v4(198, 51, 100, 1)};
  auto policy = policy_from(denying("tracker.example"), names.resolver());
  EgressNamesRefresh refresh(policy, denying("tracker.example"), names.resolver());
  CHECK(verdict(policy, 1) == EgressReason::operator_deny);
  CHECK_FALSE(refresh.refresh_once());  // nothing moved

  names.answers["tracker.example"] = {IpAddress::v4(198, 51, 100, 2)};
  CHECK(refresh.refresh_once());
  CHECK(verdict(policy, 2) == EgressReason::operator_deny);
  CHECK(verdict(policy, 1) == EgressReason::allowed);
  CHECK(policy.rules().denied.front().describe() == "tracker.example (198.51.100.2)");
}

TEST_CASE("a denied name that stops resolving keeps denying the addresses it had") {
  MovingNames names;
  names.answers["tracker.example"] = {IpAddress::v4(198, 51, 100, 1)};
  auto policy = policy_from(denying("tracker.example"), names.resolver());
  EgressNamesRefresh refresh(policy, denying("tracker.example"), names.resolver());
  names.answers.clear();
  CHECK_FALSE(refresh.refresh_once());
  CHECK(verdict(policy, 1) == EgressReason::operator_deny);
}

TEST_CASE("started, the refresh resolves again on its own, and stops when destroyed") {
  MovingNames names;
  names.answers["tracker.example"] = {IpAddress::v4(198, 51, 100, 1)};
  auto policy = policy_from(denying("tracker.example"), names.resolver());
  std::atomic<int> asked{0};
  {
    EgressNamesRefresh refresh(policy, denying("tracker.example"), [&](const std::string& name) {
      asked.fetch_add(1);
      return Result<std::vector<IpAddress>>(std::vector<IpAddress>{IpAddress::v4(198, 51, 100, 3)});
    });
    refresh.start(std::chrono::milliseconds(10));
    for (int i = 0; i < 500 && verdict(policy, 3) != EgressReason::operator_deny; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(verdict(policy, 3) == EgressReason::operator_deny);
  }
  int after_stop = asked.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(asked.load() == after_stop);
}

TEST_CASE("a session's denied name that moves is refused at its new address, by the relay serving it") {
  EchoServer server;
  MovingNames names;
  names.answers["tracker.example"] = {IpAddress::v4(127, 0, 0, 2)};
  EgressRelay relay(EgressPolicy({}, [](const IpAddress&) { return false; }));
  EgressSession narrowed;
  narrowed.narrowing = denying("tracker.example");
  REQUIRE(resolve_names(narrowed.narrowing, names.resolver()));
  uint16_t port = 0, other_port = 0;
  REQUIRE(relay.serve("narrowed", listen_on_loopback(port, 8), narrowed));
  REQUIRE(relay.serve("plain", listen_on_loopback(other_port, 8), EgressSession{}));
  CHECK(relay.named_narrowings().size() == 1);  // a session without names is not resolved for
  EgressNamesRefresh refresh(relay.policy(), {}, names.resolver(), &relay);
  UniqueFd before;
  REQUIRE(socks_connect(port, connect_request(127, 0, 0, 1, server.port), before) == 0);  // not its address yet

  names.answers["tracker.example"] = {IpAddress::v4(127, 0, 0, 1)};
  CHECK(refresh.refresh_once());
  UniqueFd moved;
  CHECK(socks_connect(port, connect_request(127, 0, 0, 1, server.port), moved) == 2);
  CHECK(relay.counters("narrowed")->refused_for(EgressReason::session_policy) == 1);
  UniqueFd other;
  CHECK(socks_connect(other_port, connect_request(127, 0, 0, 1, server.port), other) == 0);  // narrows one session

  names.answers.clear();
  CHECK_FALSE(refresh.refresh_once());  // a failed lookup lifts nothing
  UniqueFd after;
  CHECK(socks_connect(port, connect_request(127, 0, 0, 1, server.port), after) == 2);
}
