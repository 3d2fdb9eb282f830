#include <doctest/doctest.h>

#include "corral/egress/egress_names.hpp"
#include "corral/egress/egress_rule.hpp"

using namespace corral;

namespace {

IpEndpoint at(const char* address, uint16_t port) {
  return {*IpAddress::parse(address), port};
}

std::string error_of(const char* text) {
  auto rule = parse_egress_rule(text);
  REQUIRE_FALSE(rule);
  return rule.error().message;
}

}  // namespace

TEST_CASE("an egress entry is a range with optional ports, written back the same way") {
  for (const char* text : {"10.0.0.0/8", "127.0.0.1/32:3000", "10.1.0.0/16:8000-8099", "[fd00::/8]:443", "::1/128",
                           "fe80::/10", "[::1/128]:1-65535"}) {
    CAPTURE(text);
    REQUIRE(parse_egress_rule(text));
  }
  CHECK(parse_egress_rule("127.0.0.1:3000")->to_string() == "127.0.0.1/32:3000");
  CHECK(parse_egress_rule("[fd00::/8]:443")->to_string() == "[fd00::/8]:443");
  CHECK(parse_egress_rule("fd00::/8")->to_string() == "fd00::/8");
  CHECK(parse_egress_rule("[10.0.0.0/8]:80")->to_string() == "10.0.0.0/8:80");
  auto ranged = *parse_egress_rule("10.1.0.0/16:8000-8099");
  CHECK(ranged.matches(at("10.1.2.3", 8000)));
  CHECK(ranged.matches(at("10.1.2.3", 8099)));
  CHECK_FALSE(ranged.matches(at("10.1.2.3", 8100)));
  CHECK_FALSE(ranged.matches(at("10.2.0.1", 8000)));
  CHECK(parse_egress_rule("10.0.0.0/8")->matches(at("::ffff:10.9.9.9", 1)));  // mapped: judged as IPv4
}

TEST_CASE("a name with optional ports is a name, matching only what it resolved to") {
  auto rule = *parse_egress_rule("DB.Example:5432");
  CHECK(rule.is_name());
  CHECK(rule.to_string() == "db.example:5432");
  CHECK_FALSE(rule.matches(at("10.1.2.3", 5432)));  // not resolved yet: nothing
  EgressLists lists{{rule}, {}};
  auto resolver = [](const std::string& name) -> Result<std::vector<IpAddress>> {
    if (name == "db.example") return std::vector<IpAddress>{*IpAddress::parse("10.1.2.3")};
    return Error::make(EHOSTUNREACH, "no such name");
  };
  REQUIRE(resolve_names(lists, resolver));
  CHECK(lists.allow[0].matches(at("10.1.2.3", 5432)));
  CHECK_FALSE(lists.allow[0].matches(at("10.1.2.3", 5433)));
  CHECK(lists.allow[0].describe() == "db.example:5432 (10.1.2.3)");
  EgressLists unknown{{}, {*parse_egress_rule("nowhere.example")}};
  auto failed = resolve_names(unknown, resolver);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.find("nowhere.example") != std::string::npos);
  std::vector<std::string> problems;
  CHECK(resolve_names(unknown, resolver, true, &problems));
  CHECK(problems.size() == 1);
  CHECK(unknown.deny[0].addresses.empty());
}

TEST_CASE("the system resolver finds localhost, and says so for a name that does not exist") {
  auto found = resolve_by_system("localhost");
  REQUIRE(found);
  CHECK_FALSE(found->empty());
  CHECK_FALSE(resolve_by_system("no-such-name.invalid"));
}

TEST_CASE("a malformed egress entry says what is wrong and what to write") {
  CHECK(error_of("").find("empty") != std::string::npos);
  CHECK(error_of("10.0.0.1/8").find("10.0.0.0/8") != std::string::npos);
  CHECK(error_of("10.0.0.0/8:0").find("1 to 65535") != std::string::npos);
  CHECK(error_of("10.0.0.0/8:70000").find("1 to 65535") != std::string::npos);
  CHECK(error_of("10.0.0.0/8:90-80").find("low to high") != std::string::npos);
  CHECK(error_of("10.0.0.0/8:http").find("not a port") != std::string::npos);
  CHECK(error_of("10.0.0.0/8:").find("without a port") != std::string::npos);
  CHECK(error_of("[fd00::/8").find("without ']'") != std::string::npos);
  CHECK(error_of("[fd00::/8]443").find("after ']'") != std::string::npos);
  CHECK(error_of("300.1.2.3").find("not an IPv4") != std::string::npos);
  CHECK(error_of("bad name!").find("neither an address nor a host name") != std::string::npos);
  CHECK(error_of("a..b").find("neither") != std::string::npos);
  CHECK(error_of("http://x").find("not a port") != std::string::npos);
  CHECK(error_of("10.0.0.0/33").find("ADDRESS[/PREFIX]") != std::string::npos);
}

TEST_CASE("ranges overlap only when one holds the other") {
  auto cidr = [](const char* text) { return *Cidr::parse(text); };
  CHECK(overlaps(cidr("10.0.0.0/8"), cidr("10.1.0.0/16")));
  CHECK(overlaps(cidr("10.1.0.0/16"), cidr("10.0.0.0/8")));
  CHECK_FALSE(overlaps(cidr("10.0.0.0/8"), cidr("11.0.0.0/8")));
  CHECK_FALSE(overlaps(cidr("10.0.0.0/8"), cidr("fd00::/8")));
  CHECK(contains(cidr("10.0.0.0/8"), cidr("10.1.0.0/16")));
  CHECK_FALSE(contains(cidr("10.1.0.0/16"), cidr("10.0.0.0/8")));
}
