// A session's own egress lists through the session manager (on fakes):
// checked before anything starts, names resolved off the I/O thread, the
// resolved lists handed to the browser's way out, kept for adoption.
#include <doctest/doctest.h>

#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;

namespace {

EgressRule rule(const char* text) {
  return *parse_egress_rule(text);
}

// The host has 127.0.0.1; the operator allows its port 3000 and denies 203.0.113.0/24.
const EgressPolicy& operator_policy() {
  static const EgressPolicy policy({{rule("127.0.0.1:3000")}, {}, {rule("203.0.113.0/24")}},
                                   [](const IpAddress& address) { return address.to_string() == "127.0.0.1"; });
  return policy;
}

Result<std::vector<IpAddress>> test_names(const std::string& name) {
  if (name == "example.test") return std::vector<IpAddress>{*IpAddress::parse("198.51.100.20")};
  if (name == "inside.test") return std::vector<IpAddress>{*IpAddress::parse("10.9.9.9")};
  return Error::make(EHOSTUNREACH, "'" + name + "' does not resolve");
}

SessionRequest asking(EgressLists lists) {
  SessionRequest request;
  request.egress = std::move(lists);
  return request;
}

void with_policy(ManagerFixture& f) {
  f.config.egress_policy = &operator_policy();
  f.config.egress_names = test_names;
}

}  // namespace

TEST_CASE("a session that narrows the policy opens, its way out gets the lists resolved, its JSON the policy") {
  ManagerFixture f;
  with_policy(f);
  auto info = f.open_ok(asking({{rule("example.test:443"), rule("127.0.0.1:3000")}, {rule("198.51.100.66")}}));
  auto lists = f.launcher.browser(info.pid).egress;
  REQUIRE(lists.allow.size() == 2);
  CHECK(lists.allow[0].addresses == std::vector<IpAddress>{*IpAddress::parse("198.51.100.20")});
  REQUIRE(info.egress_policy);
  CHECK(info.egress_policy->allow == std::vector<std::string>{"127.0.0.1/32:3000"});
  CHECK(info.egress_policy->deny == std::vector<std::string>{"203.0.113.0/24"});
  CHECK(info.egress_policy->session_allow ==
        std::vector<std::string>{"example.test:443 (198.51.100.20)", "127.0.0.1/32:3000"});
  CHECK(info.egress_policy->session_deny == std::vector<std::string>{"198.51.100.66/32"});
}

TEST_CASE("a session that would widen the policy is a 400 and nothing of it starts") {
  ManagerFixture f;
  with_policy(f);
  for (const char* allowed : {"10.0.0.0/8", "127.0.0.1", "203.0.113.5", "inside.test", "nowhere.test"}) {
    CAPTURE(allowed);
    auto opened = f.manager().open(asking({{rule(allowed)}, {}}));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == EBADMSG);
    CHECK(opened.error().message.find(allowed) != std::string::npos);
  }
  CHECK(f.launcher.alive_count() == 0);
  CHECK(f.manager().list().empty());
  CHECK(f.host_is_clean());
}

TEST_CASE("without a policy (a shared network) a session's lists cannot be honoured: refused") {
  ManagerFixture f;
  auto opened = f.manager().open(asking({{}, {rule("198.51.100.66")}}));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == EOPNOTSUPP);
  CHECK_FALSE(f.open_ok().egress_policy);  // and a session without lists shows none
}

TEST_CASE("an adopted session's way out gets its lists again, names resolved anew") {
  ManagerFixture f;
  with_policy(f);
  auto info = f.open_ok(asking({{rule("example.test")}, {rule("198.51.100.66:80")}}));
  f.manager_ptr.reset();  // corrald gone; the browser and its record stay
  ManagerFixture& again = f;
  auto report = again.manager().recover();
  REQUIRE(report);
  CHECK(report->adopted == 1);
  auto lists = again.launcher.browser(info.pid).egress;
  REQUIRE(lists.allow.size() == 1);
  CHECK(lists.allow[0].to_string() == "example.test");
  CHECK(lists.allow[0].addresses.size() == 1);
  CHECK(lists.deny[0].to_string() == "198.51.100.66/32:80");
  auto adopted = again.manager().get(info.id);
  REQUIRE(adopted->egress_policy);
  CHECK(adopted->egress_policy->session_deny == std::vector<std::string>{"198.51.100.66/32:80"});
}
