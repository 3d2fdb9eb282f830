#include <doctest/doctest.h>

#include "corral/api/public_address.hpp"

using namespace corral;

TEST_CASE("--public-url") {
  auto base = parse_public_url("https://corral.example:8443/corral/");
  REQUIRE(base);
  CHECK(base->http_url("/x") == "https://corral.example:8443/corral/x");
  CHECK(base->ws_url("/x") == "wss://corral.example:8443/corral/x");
  CHECK(parse_public_url("http://10.0.0.1:8420")->ws_url("") == "ws://10.0.0.1:8420");
  for (auto bad : {"corral.example", "ftp://corral.example", "https://user@corral.example", "https://",
                   "https://corral.example/a?b", "https://corral.example/a#b", "https://bad host/"})
    CHECK_MESSAGE(!parse_public_url(bad), bad);
}

TEST_CASE("a session's DevTools base, and the base from a request's Host") {
  CHECK(devtools_base_path("0123456789ab", "00112233445566778899aabbccddeeff") ==
        "/cdp/0123456789ab/00112233445566778899aabbccddeeff");
  CHECK(public_base_from_host("10.0.0.1:8420").http_url("/x") == "http://10.0.0.1:8420/x");
  PublicAddressing unix_socket{std::nullopt, true};
  CHECK_FALSE(unix_socket.base_for(std::optional<std::string_view>("h:1")));
  PublicAddressing behind_proxy{parse_public_url("https://corral.example/c").value(), false};
  CHECK(behind_proxy.base_for(std::optional<std::string_view>("h:1"))->ws_url("/x") == "wss://corral.example/c/x");
}
