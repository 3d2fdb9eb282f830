// The operator's deny list and a session's own lists, composed with the
// default policy: what each refuses, under which reason, and which
// session lists the operator's policy admits.
#include <doctest/doctest.h>

#include <set>

#include "corral/egress/egress_policy.hpp"

using namespace corral;

namespace {

IpEndpoint at(const char* address, uint16_t port = 443) {
  return {*IpAddress::parse(address), port};
}

EgressRule rule(const char* text) {
  return *parse_egress_rule(text);
}

EgressRule named(const char* text, std::vector<const char*> addresses) {
  auto parsed = rule(text);
  for (const char* address : addresses) parsed.addresses.push_back(*IpAddress::parse(address));
  return parsed;
}

EgressPolicy::IsLocal local_are(std::set<std::string> addresses) {
  return [addresses](const IpAddress& address) { return addresses.count(address.to_string()) > 0; };
}

// An operator who lets sessions reach a dev server on the host's port 3000
// and 10.1.0.0/16, and refuses 203.0.113.0/24 (public) and a named tracker.
EgressPolicy operator_policy() {
  EgressPolicy::Rules rules;
  rules.allowed = {rule("127.0.0.1:3000"), rule("10.1.0.0/16"), named("intranet.example", {"10.2.0.5"})};
  rules.denied = {rule("203.0.113.0/24"), rule("198.51.100.9:25"), named("tracker.example", {"192.0.2.66"})};
  rules.corral_listeners = {at("127.0.0.1", 8420)};
  return EgressPolicy(rules, local_are({"127.0.0.1", "198.51.100.1"}));
}

EgressReason reason(const EgressPolicy& policy, const char* address, uint16_t port = 443,
                    const EgressLists* session = nullptr) {
  return policy.decide(at(address, port), session).reason;
}

std::string refusal(const EgressPolicy& policy, EgressLists session) {
  auto admitted = policy.admits(session);
  REQUIRE_FALSE(admitted);
  CHECK(admitted.error().code == EBADMSG);
  return admitted.error().message;
}

}  // namespace

TEST_CASE("the operator's deny beats the defaults' allowing and its own allow list") {
  auto policy = operator_policy();
  CHECK(reason(policy, "203.0.113.7") == EgressReason::operator_deny);  // public, allowed by default
  CHECK(reason(policy, "198.51.100.9", 25) == EgressReason::operator_deny);
  CHECK(policy.decide(at("198.51.100.9", 443)).allowed());  // another port of it
  CHECK(reason(policy, "192.0.2.66") == EgressReason::operator_deny);  // the name's address
  CHECK(policy.decide(at("127.0.0.1", 3000)).allowed());
  CHECK(reason(policy, "127.0.0.1", 3001) == EgressReason::local);  // only the port allowed
  CHECK(reason(policy, "127.0.0.1", 8420) == EgressReason::corral_itself);
  EgressPolicy both({{rule("10.0.0.0/8")}, {}, {rule("10.9.0.0/16")}}, local_are({}));
  CHECK(both.decide(at("10.1.0.1")).allowed());
  CHECK(reason(both, "10.9.0.1") == EgressReason::operator_deny);
}

TEST_CASE("an allowed name lifts no default refusal: its addresses are judged like any") {
  auto policy = operator_policy();
  CHECK(reason(policy, "10.2.0.5") == EgressReason::private_range);
  CHECK(policy.decide(at("10.1.0.5")).allowed());  // a range does
}

TEST_CASE("a session's allow list means only these, within the operator's policy") {
  auto policy = operator_policy();
  EgressLists session{{rule("198.51.100.0/24:443"), rule("10.1.2.0/24")}, {}};
  CHECK(policy.decide(at("198.51.100.7", 443), &session).allowed());
  CHECK(reason(policy, "198.51.100.7", 80, &session) == EgressReason::session_policy);
  CHECK(reason(policy, "192.0.2.1", 443, &session) == EgressReason::session_policy);
  CHECK(policy.decide(at("10.1.2.3"), &session).allowed());
  CHECK(reason(policy, "10.1.3.3", 443, &session) == EgressReason::session_policy);
  // The operator's word comes first, and is counted as such.
  EgressLists wide{{rule("0.0.0.0/0")}, {}};
  CHECK(reason(policy, "10.3.0.1", 443, &wide) == EgressReason::private_range);
  CHECK(reason(policy, "203.0.113.1", 443, &wide) == EgressReason::operator_deny);
}

TEST_CASE("a session's deny list refuses more, and beats its allow list") {
  auto policy = operator_policy();
  EgressLists session{{rule("198.51.100.0/24")}, {rule("198.51.100.7"), named("ads.example:80", {"198.51.100.8"})}};
  CHECK(reason(policy, "198.51.100.7", 443, &session) == EgressReason::session_policy);
  CHECK(reason(policy, "198.51.100.8", 80, &session) == EgressReason::session_policy);
  CHECK(policy.decide(at("198.51.100.8", 443), &session).allowed());
  CHECK(policy.decide(at("198.51.100.6", 443), &session).allowed());
  EgressLists deny_only{{}, {rule("192.0.2.0/24")}};
  CHECK(policy.decide(at("198.51.100.6"), &deny_only).allowed());
  CHECK(reason(policy, "192.0.2.1", 443, &deny_only) == EgressReason::session_policy);
}

TEST_CASE("the operator's policy admits a session's list that only narrows it") {
  auto policy = operator_policy();
  // 198.51.100.9:25 is denied: the range on 443 does not reach it
  CHECK(policy.admits({{rule("198.51.100.0/24:443"), rule("10.1.2.0/24:80"), rule("127.0.0.1:3000")}, {}}));
  CHECK(policy.admits({{named("example.com", {"198.51.100.20"})}, {rule("0.0.0.0/0")}}));  // deny: anything
  CHECK(policy.admits({{rule("10.1.0.0/16")}, {}}));
}

TEST_CASE("a session's list that would reach what the operator refuses is refused, saying what") {
  auto policy = operator_policy();
  CHECK(refusal(policy, {{rule("10.0.0.0/8")}, {}}).find("10.0.0.0/8 (private)") != std::string::npos);
  CHECK(refusal(policy, {{rule("10.2.0.0/16")}, {}}).find("private") != std::string::npos);
  CHECK(refusal(policy, {{rule("127.0.0.1")}, {}}).find("local") != std::string::npos);  // every port
  CHECK(refusal(policy, {{rule("127.0.0.1:3000-3001")}, {}}).find("local") != std::string::npos);
  CHECK(refusal(policy, {{rule("127.0.0.2:3000")}, {}}).find("local") != std::string::npos);
  CHECK(refusal(policy, {{rule("198.51.100.1")}, {}}).find("this host's") != std::string::npos);
  CHECK(refusal(policy, {{rule("169.254.169.254")}, {}}).find("link-local") != std::string::npos);
  CHECK(refusal(policy, {{rule("0.0.0.0/0")}, {}}).find("operator's policy refuses") != std::string::npos);
  CHECK(refusal(policy, {{rule("203.0.113.128/25")}, {}}).find("--egress-deny") != std::string::npos);
  CHECK(refusal(policy, {{rule("198.51.100.0/24:20-30")}, {}}).find("198.51.100.9/32:25") != std::string::npos);
  CHECK(refusal(policy, {{rule("::1")}, {}}).find("local") != std::string::npos);
  CHECK(refusal(policy, {{rule("fc00::/7")}, {}}).find("private") != std::string::npos);
  CHECK(refusal(policy, {{named("sneaky.example", {"198.51.100.20", "10.9.9.9"})}, {}}).find("sneaky.example") !=
        std::string::npos);
  CHECK(refusal(policy, {{named("gone.example", {})}, {}}).find("no address") != std::string::npos);
}

TEST_CASE("a session's list may not reach corrald itself, even where the operator allows the host") {
  EgressPolicy policy({{rule("127.0.0.0/8")}, {at("127.0.0.1", 8420)}}, local_are({"127.0.0.1"}));
  CHECK(policy.admits({{rule("127.0.0.1:3000")}, {}}));
  CHECK(refusal(policy, {{rule("127.0.0.1")}, {}}).find("corrald itself") != std::string::npos);
  CHECK(refusal(policy, {{rule("127.0.0.0/8:8000-9000")}, {}}).find("corrald itself") != std::string::npos);
}
