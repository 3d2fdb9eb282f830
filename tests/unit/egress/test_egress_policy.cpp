#include <doctest/doctest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <set>

#include "corral/egress/egress_policy.hpp"
#include "corral/egress/local_address.hpp"

using namespace corral;

namespace {

IpEndpoint at(const char* address, uint16_t port = 443) {
  return {*IpAddress::parse(address), port};
}

// The host's own addresses, as a test names them: what the kernel would say.
EgressPolicy::IsLocal local_are(std::set<std::string> addresses) {
  return [addresses](const IpAddress& address) { return addresses.count(address.to_string()) > 0; };
}

EgressReason reason_for(const EgressPolicy& policy, const char* address, uint16_t port = 443) {
  return policy.decide(at(address, port)).reason;
}

Cidr cidr(const char* text) {
  return *Cidr::parse(text);
}

// An IPv4 address of the host's eth0 (or of its first other interface
// that has one): local by the kernel's account.
std::string an_interface_address() {
  ifaddrs* all = nullptr;
  REQUIRE(::getifaddrs(&all) == 0);
  std::string found;
  for (ifaddrs* each = all; each; each = each->ifa_next) {
    if (!each->ifa_addr || each->ifa_addr->sa_family != AF_INET || (each->ifa_flags & IFF_LOOPBACK)) continue;
    auto* v4 = reinterpret_cast<sockaddr_in*>(each->ifa_addr);
    auto* b = reinterpret_cast<uint8_t*>(&v4->sin_addr);
    std::string address = IpAddress::v4(b[0], b[1], b[2], b[3]).to_string();
    if (found.empty() || std::strcmp(each->ifa_name, "eth0") == 0) found = address;
  }
  ::freeifaddrs(all);
  return found;
}

}  // namespace

TEST_CASE("the default policy refuses the host, link-local, private, shared and reserved ranges") {
  EgressPolicy policy({}, local_are({"127.0.0.1", "::1", "198.51.100.1"}));
  CHECK(reason_for(policy, "127.0.0.1") == EgressReason::local);
  CHECK(reason_for(policy, "::1") == EgressReason::local);
  CHECK(reason_for(policy, "198.51.100.1") == EgressReason::local);  // an interface's: the "kernel" says so
  CHECK(reason_for(policy, "0.0.0.0") == EgressReason::local);
  CHECK(reason_for(policy, "::") == EgressReason::local);
  CHECK(reason_for(policy, "169.254.169.254") == EgressReason::link_local);
  CHECK(reason_for(policy, "fe80::1") == EgressReason::link_local);
  CHECK(reason_for(policy, "10.255.255.53") == EgressReason::private_range);
  CHECK(reason_for(policy, "172.16.0.1") == EgressReason::private_range);
  CHECK(reason_for(policy, "172.31.255.254") == EgressReason::private_range);
  CHECK(reason_for(policy, "192.168.1.1") == EgressReason::private_range);
  CHECK(reason_for(policy, "100.64.0.1") == EgressReason::private_range);
  CHECK(reason_for(policy, "100.127.255.255") == EgressReason::private_range);
  CHECK(reason_for(policy, "fd00::2") == EgressReason::private_range);
  CHECK(reason_for(policy, "224.0.0.1") == EgressReason::reserved);
  CHECK(reason_for(policy, "239.255.255.250") == EgressReason::reserved);
  CHECK(reason_for(policy, "240.0.0.1") == EgressReason::reserved);
  CHECK(reason_for(policy, "255.255.255.255") == EgressReason::reserved);
  CHECK(reason_for(policy, "0.1.2.3") == EgressReason::reserved);
  CHECK(reason_for(policy, "ff02::1") == EgressReason::reserved);
}

TEST_CASE("the default policy lets public addresses through, next to the refused ranges") {
  EgressPolicy policy({}, local_are({}));
  for (const char* address : {"198.51.100.7", "8.8.8.8", "172.15.255.255", "172.32.0.0", "100.63.255.255",
                              "100.128.0.0", "169.253.255.255", "11.0.0.1", "223.255.255.255", "2001:db8::7",
                              "fe00::1", "fec0::1"}) {
    CAPTURE(address);
    CHECK(policy.decide(at(address)).allowed());
  }
}

TEST_CASE("an address local to the host is refused only because the kernel says so") {
  EgressPolicy not_local({}, local_are({}));
  CHECK(not_local.decide(at("127.0.0.1")).allowed());  // not in any list: the kernel's notion decides
  EgressPolicy local({}, local_are({"127.0.0.1"}));
  CHECK(reason_for(local, "127.0.0.1") == EgressReason::local);
}

TEST_CASE("an IPv4-mapped IPv6 address is judged as the IPv4 address it reaches") {
  std::vector<IpAddress> asked;
  EgressPolicy policy({}, [&](const IpAddress& address) {
    asked.push_back(address);
    return address == IpAddress::v4(127, 0, 0, 1);
  });
  CHECK(reason_for(policy, "::ffff:127.0.0.1") == EgressReason::local);
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].is_v4());
  CHECK(reason_for(policy, "::ffff:169.254.169.254") == EgressReason::link_local);
  CHECK(reason_for(policy, "::ffff:10.0.0.1") == EgressReason::private_range);
  CHECK(reason_for(policy, "::ffff:0.0.0.0") == EgressReason::local);
  CHECK(policy.decide(at("::ffff:198.51.100.7")).allowed());
}

TEST_CASE("the operator's allowed ranges lift every default refusal they cover, and no other") {
  EgressPolicy policy({{cidr("127.0.0.0/8"), cidr("10.1.0.0/16"), cidr("169.254.169.254"), cidr("fd00::/64")}, {}},
                      local_are({"127.0.0.1", "198.51.100.1"}));
  CHECK(policy.decide(at("127.0.0.1")).allowed());
  CHECK(policy.decide(at("::ffff:127.0.0.1")).allowed());
  CHECK(policy.decide(at("10.1.2.3")).allowed());
  CHECK(reason_for(policy, "10.2.0.1") == EgressReason::private_range);
  CHECK(policy.decide(at("169.254.169.254")).allowed());
  CHECK(reason_for(policy, "169.254.169.253") == EgressReason::link_local);
  CHECK(policy.decide(at("fd00::2")).allowed());
  CHECK(reason_for(policy, "198.51.100.1") == EgressReason::local);
}

TEST_CASE("corrald's own listening addresses stay refused whatever is allowed") {
  EgressPolicy::Rules rules{{cidr("0.0.0.0/0"), cidr("::/0")}, {at("127.0.0.1", 8420), at("::1", 8421)}};
  EgressPolicy policy(rules, local_are({"127.0.0.1", "::1"}));
  CHECK(reason_for(policy, "127.0.0.1", 8420) == EgressReason::corral_itself);
  CHECK(reason_for(policy, "::ffff:127.0.0.1", 8420) == EgressReason::corral_itself);
  CHECK(reason_for(policy, "::1", 8421) == EgressReason::corral_itself);
  CHECK(policy.decide(at("127.0.0.1", 8421)).allowed());  // another port: allowed, as the operator said
  CHECK(policy.decide(at("127.0.0.2", 8420)).allowed());  // a listener on one address is not on the others
}

TEST_CASE("a corrald listening on every address is every local address at its port") {
  EgressPolicy::Rules rules{{cidr("0.0.0.0/0")}, {at("0.0.0.0", 8420)}};
  EgressPolicy policy(rules, local_are({"127.0.0.1", "198.51.100.1"}));
  CHECK(reason_for(policy, "127.0.0.1", 8420) == EgressReason::corral_itself);
  CHECK(reason_for(policy, "198.51.100.1", 8420) == EgressReason::corral_itself);
  CHECK(reason_for(policy, "0.0.0.0", 8420) == EgressReason::corral_itself);
  CHECK(policy.decide(at("198.51.100.7", 8420)).allowed());  // another host's port 8420
  CHECK(policy.decide(at("198.51.100.1", 8000)).allowed());
}

TEST_CASE("refusals are counted under names of their own") {
  CHECK(egress_reason_name(EgressReason::allowed) == "allowed");
  CHECK(egress_reason_name(EgressReason::local) == "local");
  CHECK(egress_reason_name(EgressReason::link_local) == "link-local");
  CHECK(egress_reason_name(EgressReason::private_range) == "private");
  CHECK(egress_reason_name(EgressReason::reserved) == "reserved");
  CHECK(egress_reason_name(EgressReason::corral_itself) == "corral-itself");
  CHECK(egress_reason_name(EgressReason::operator_deny) == "operator-deny");
  CHECK(egress_reason_name(EgressReason::session_policy) == "session-policy");
}

TEST_CASE("--egress-allow's values: a range, or a message that says what to give") {
  CHECK(parse_egress_rule("127.0.0.0/8")->to_string() == "127.0.0.0/8");
  auto bad = parse_egress_rule("127.0.0.1/8");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("127.0.0.0/8") != std::string::npos);
  CHECK(bad.error().message.find("ADDRESS[/PREFIX]") != std::string::npos);
}

TEST_CASE("the kernel names loopback and this host's own interface address local, a public address not") {
  auto loopback = kernel_route_is_local(IpAddress::v4(127, 0, 0, 1));
  REQUIRE(loopback);
  CHECK(*loopback);
  CHECK(*kernel_route_is_local(IpAddress::v4(127, 1, 2, 3)));  // all of 127/8 is the host's
  auto v6_loopback = kernel_route_is_local(*IpAddress::parse("::1"));
  REQUIRE(v6_loopback);
  CHECK(*v6_loopback);
  auto own = an_interface_address();
  REQUIRE_FALSE(own.empty());
  CAPTURE(own);
  auto interface = kernel_route_is_local(*IpAddress::parse(own));
  REQUIRE(interface);
  CHECK(*interface);
  auto remote = kernel_route_is_local(IpAddress::v4(198, 51, 100, 7));
  REQUIRE(remote);
  CHECK_FALSE(*remote);
  // Through the policy, with nothing faked: the host refused, the remote address let through.
  EgressPolicy policy({});
  CHECK(policy.decide(at(own.c_str())).reason == EgressReason::local);
  CHECK(policy.decide(at("::ffff:127.0.0.1")).reason == EgressReason::local);
  CHECK(policy.decide(at("198.51.100.7")).allowed());
}
