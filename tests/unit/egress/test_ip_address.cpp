#include <doctest/doctest.h>

#include "corral/egress/ip_address.hpp"

using namespace corral;

TEST_CASE("addresses parse in both families and print back") {
  auto v4 = IpAddress::parse("198.51.100.7");
  REQUIRE(v4);
  CHECK(v4->is_v4());
  CHECK(*v4 == IpAddress::v4(198, 51, 100, 7));
  CHECK(v4->to_string() == "198.51.100.7");
  auto v6 = IpAddress::parse("2001:db8::1");
  REQUIRE(v6);
  CHECK_FALSE(v6->is_v4());
  CHECK(v6->to_string() == "2001:db8::1");
  CHECK_FALSE(IpAddress::parse("example.com"));
  CHECK_FALSE(IpAddress::parse("[::1]"));
  CHECK_FALSE(IpAddress::parse("10.0.0.256"));
}

TEST_CASE("an IPv4-mapped IPv6 address unmaps to its IPv4 address; others stay") {
  CHECK(IpAddress::parse("::ffff:127.0.0.1")->unmapped() == IpAddress::v4(127, 0, 0, 1));
  CHECK(IpAddress::parse("::ffff:a9fe:a9fe")->unmapped() == IpAddress::v4(169, 254, 169, 254));
  CHECK(IpAddress::parse("::1")->unmapped() == *IpAddress::parse("::1"));
  CHECK(IpAddress::parse("::127.0.0.1")->unmapped() == *IpAddress::parse("::127.0.0.1"));  // IPv4-compatible: not mapped
}

TEST_CASE("0.0.0.0 and :: are unspecified; nothing else is") {
  CHECK(IpAddress::v4(0, 0, 0, 0).is_unspecified());
  CHECK(IpAddress::parse("::")->is_unspecified());
  CHECK_FALSE(IpAddress::v4(0, 0, 0, 1).is_unspecified());
  CHECK_FALSE(IpAddress::parse("::1")->is_unspecified());
}

TEST_CASE("a range holds the addresses that share its prefix, of its family") {
  auto ten = Cidr::parse("10.0.0.0/8");
  REQUIRE(ten);
  CHECK(ten->contains(IpAddress::v4(10, 255, 0, 1)));
  CHECK_FALSE(ten->contains(IpAddress::v4(11, 0, 0, 1)));
  CHECK(ten->contains(*IpAddress::parse("::ffff:10.1.2.3")));  // judged as the IPv4 it maps
  CHECK_FALSE(ten->contains(*IpAddress::parse("a00::1")));      // same leading bits, other family
  auto twelve = Cidr::parse("172.16.0.0/12");
  CHECK(twelve->contains(IpAddress::v4(172, 31, 255, 255)));
  CHECK_FALSE(twelve->contains(IpAddress::v4(172, 32, 0, 0)));
  auto ula = Cidr::parse("fc00::/7");
  CHECK(ula->contains(*IpAddress::parse("fd00::2")));
  CHECK_FALSE(ula->contains(*IpAddress::parse("fe00::1")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(IpAddress::v4(8, 8, 8, 8)));
}

TEST_CASE("a bare address is a range of one; a mapped range is the IPv4 one") {
  auto one = Cidr::parse("127.0.0.1");
  REQUIRE(one);
  CHECK(one->prefix == 32);
  CHECK(one->contains(IpAddress::v4(127, 0, 0, 1)));
  CHECK_FALSE(one->contains(IpAddress::v4(127, 0, 0, 2)));
  CHECK(Cidr::parse("::1")->prefix == 128);
  auto mapped = Cidr::parse("::ffff:10.0.0.0/104");
  REQUIRE(mapped);
  CHECK(mapped->to_string() == "10.0.0.0/8");
  CHECK(mapped->contains(IpAddress::v4(10, 9, 9, 9)));
}

TEST_CASE("a range that is not one is refused, saying what to write") {
  auto bits = Cidr::parse("10.1.0.0/8");
  REQUIRE_FALSE(bits);
  CHECK(bits.error().code == EINVAL);
  CHECK(bits.error().message.find("did you mean 10.0.0.0/8?") != std::string::npos);
  auto long_prefix = Cidr::parse("10.0.0.0/33");
  REQUIRE_FALSE(long_prefix);
  CHECK(long_prefix.error().message.find("0 to 32") != std::string::npos);
  CHECK(Cidr::parse("fc00::/129").error().message.find("0 to 128") != std::string::npos);
  CHECK_FALSE(Cidr::parse("10.0.0.0/"));
  CHECK_FALSE(Cidr::parse("10.0.0.0/8x"));
  CHECK_FALSE(Cidr::parse("localhost/8"));
  CHECK_FALSE(Cidr::parse(""));
}
