#include <doctest/doctest.h>

#include <vector>

#include "corral/egress/socks5.hpp"

using namespace corral;
using Bytes = std::vector<uint8_t>;

TEST_CASE("a greeting is complete once all its methods arrived, and says whether no-auth is offered") {
  Bytes greeting = {5, 2, 2, 0};
  CHECK(socks5::parse_greeting(Bytes{}).state == socks5::Parse::incomplete);
  CHECK(socks5::parse_greeting(Bytes{5}).state == socks5::Parse::incomplete);
  CHECK(socks5::parse_greeting(Bytes{5, 2, 2}).state == socks5::Parse::incomplete);
  auto parsed = socks5::parse_greeting(greeting);
  CHECK(parsed.state == socks5::Parse::complete);
  CHECK(parsed.length == 4);
  CHECK(parsed.offers_no_authentication);
  auto password_only = socks5::parse_greeting(Bytes{5, 1, 2});
  CHECK(password_only.state == socks5::Parse::complete);
  CHECK_FALSE(password_only.offers_no_authentication);
}

TEST_CASE("a greeting of another version or with no methods is malformed") {
  CHECK(socks5::parse_greeting(Bytes{4, 1, 0}).state == socks5::Parse::malformed);
  CHECK(socks5::parse_greeting(Bytes{'G', 'E', 'T', ' '}).state == socks5::Parse::malformed);
  CHECK(socks5::parse_greeting(Bytes{5, 0}).state == socks5::Parse::malformed);
}

TEST_CASE("a CONNECT request by IPv4, IPv6 and name, complete once its port arrived") {
  Bytes v4 = {5, 1, 0, 1, 198, 51, 100, 7, 0x01, 0xbb};
  for (size_t cut = 0; cut < v4.size(); ++cut)
    CHECK(socks5::parse_request(std::span(v4.data(), cut)).state == socks5::Parse::incomplete);
  auto request = socks5::parse_request(v4);
  REQUIRE(request.state == socks5::Parse::complete);
  CHECK(request.length == 10);
  CHECK(request.command == socks5::kConnect);
  CHECK(*request.address == IpAddress::v4(198, 51, 100, 7));
  CHECK(request.port == 443);

  Bytes v6 = {5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80};
  auto by_v6 = socks5::parse_request(v6);
  REQUIRE(by_v6.state == socks5::Parse::complete);
  CHECK(by_v6.address->to_string() == "2001:db8::1");
  CHECK(by_v6.port == 80);

  Bytes name = {5, 1, 0, 3, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0x1f, 0x90, 'x'};  // and a byte early
  auto by_name = socks5::parse_request(name);
  REQUIRE(by_name.state == socks5::Parse::complete);
  CHECK(by_name.length == 16);
  CHECK_FALSE(by_name.address);
  CHECK(by_name.name == "localhost");
  CHECK(by_name.port == 8080);
  CHECK(socks5::parse_request(std::span(name.data(), 15)).state == socks5::Parse::incomplete);
}

TEST_CASE("other commands parse (the relay refuses them); unknown address types and empty names do not") {
  auto bind = socks5::parse_request(Bytes{5, 2, 0, 1, 1, 2, 3, 4, 0, 1});
  CHECK(bind.state == socks5::Parse::complete);
  CHECK(bind.command == 2);
  CHECK(socks5::parse_request(Bytes{5, 1, 0, 9, 1, 2}).state == socks5::Parse::unknown_address_type);
  CHECK(socks5::parse_request(Bytes{5, 1, 0, 3, 0, 0, 80}).state == socks5::Parse::malformed);
  CHECK(socks5::parse_request(Bytes{4, 1, 0, 1}).state == socks5::Parse::malformed);
}

TEST_CASE("the relay's answers: a method, and replies that tell the page nothing of the host") {
  CHECK(socks5::method_choice(true) == std::array<uint8_t, 2>{5, 0});
  CHECK(socks5::method_choice(false) == std::array<uint8_t, 2>{5, 0xff});
  auto refused = socks5::reply(socks5::Reply::not_allowed);
  CHECK(refused == std::array<uint8_t, 10>{5, 2, 0, 1, 0, 0, 0, 0, 0, 0});
  CHECK(socks5::reply(socks5::Reply::command_not_supported)[1] == 7);
}
