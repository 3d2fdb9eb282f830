#include <doctest/doctest.h>

#include "corral/devtools/launch_query.hpp"

using namespace corral;

TEST_CASE("a launch URL's query is a session request") {
  std::multimap<std::string, std::string> query{{"token", "x"},          {"kind", "chrome"},
                                                {"args", "--mute-audio"}, {"args", "--window-size=800,600"},
                                                {"memory_max", "1G"},     {"tasks_max", "64"},
                                                {"labels.bot", "crawler"}, {"ttl", "10m"}};
  auto request = parse_launch_query(query);
  REQUIRE(request);
  CHECK(request->args == std::vector<std::string>{"--mute-audio", "--window-size=800,600"});
  CHECK(request->limits.memory_max == uint64_t{1} << 30);
  CHECK(request->limits.tasks_max == 64u);
  CHECK(request->labels.at("bot") == "crawler");
  CHECK(request->ttl == std::chrono::minutes(10));
  CHECK(parse_launch_query({})->kind == BrowserKind::chrome);
}

TEST_CASE("a launch URL's query is checked as a body is") {
  CHECK(parse_launch_query({{"memory_max", "lots"}}).error().code == EINVAL);
  CHECK(parse_launch_query({{"memroy_max", "1G"}}).error().code == EBADMSG);
  CHECK(parse_launch_query({{"args", "--gpu-launcher=/usr/bin/id"}}).error().code == EINVAL);
  CHECK(parse_launch_query({{"kind", "chrome"}, {"kind", "chromedriver"}}).error().code == EBADMSG);
  CHECK(parse_launch_query({{"tasks_max", "-1"}}).error().code != 0);
}

TEST_CASE("a launch URL's query takes a proxy, and its errors never quote the password") {
  auto request = parse_launch_query({{"proxy", "socks5://bob:hunter2@198.51.100.9:1080"}});
  REQUIRE(request);
  REQUIRE(request->proxy);
  CHECK(request->proxy->password == "hunter2");
  CHECK(request->proxy->redacted() == "socks5://bob:***@198.51.100.9:1080");
  auto bad = parse_launch_query({{"proxy", "ftp://bob:hunter2@h:1"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == EINVAL);
  CHECK(bad.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("a launch URL narrows the egress policy with comma lists") {
  auto request = parse_launch_query({{"egress_allow", "198.51.100.0/24:443,example.com"},
                                     {"egress_allow", "127.0.0.1:3000"},
                                     {"egress_deny", "198.51.100.9"}});
  REQUIRE(request);
  REQUIRE(request->egress.allow.size() == 3);
  CHECK(request->egress.allow[1].to_string() == "example.com");
  CHECK(request->egress.allow[2].to_string() == "127.0.0.1/32:3000");
  REQUIRE(request->egress.deny.size() == 1);
  CHECK(parse_launch_query({{"egress_allow", "10.0.0.1/8"}}).error().code == EBADMSG);
  CHECK(parse_launch_query({{"egress_deny", "a,,b"}}).error().code == EBADMSG);  // an empty entry
}

TEST_CASE("a launch URL's query carries network_max_bytes, as digits or a size") {
  CHECK(parse_launch_query({{"network_max_bytes", "5000000"}})->network_max_bytes == 5000000u);
  CHECK(parse_launch_query({{"network_max_bytes", "20M"}})->network_max_bytes == 20u << 20);
  CHECK(parse_launch_query({{"network_max_bytes", "lots"}}).error().code == EINVAL);
}
