#include <doctest/doctest.h>

#include <regex>

#include "corral/api/public_address.hpp"
#include "corral/webdriver/errors.hpp"
#include "corral/webdriver/paths.hpp"

using namespace corral;

TEST_CASE("webdriver paths: corral's id out of a command path, at the root and under /wd/hub") {
  auto target = parse_webdriver_target("/session/0123456789ab/element/abc/click");
  REQUIRE(target);
  CHECK(target->session_id == "0123456789ab");
  CHECK(target->rest == "/element/abc/click");
  auto hub = parse_webdriver_target("/wd/hub/session/0123456789ab");
  REQUIRE(hub);
  CHECK(hub->rest.empty());
  CHECK_FALSE(parse_webdriver_target("/session/0123456789abc/url"));
  CHECK_FALSE(parse_webdriver_target("/session/0123456789AB/url"));
  CHECK_FALSE(parse_webdriver_target("/session"));
  CHECK_FALSE(parse_webdriver_target("/v1/sessions/0123456789ab"));
}

TEST_CASE("webdriver paths: ids rewritten both ways") {
  CHECK(driver_target("", "fd5533a3edcb1dcd7fb68918b7caa9e8", "/title") ==
        "/session/fd5533a3edcb1dcd7fb68918b7caa9e8/title");
  CHECK(driver_target("/b", "d", "") == "/b/session/d");
  std::string body = R"({"value":{"sessionId":"fd5533a3edcb1dcd7fb68918b7caa9e8","x":"fd5533a3edcb1dcd7fb68918b7caa9e8"}})";
  CHECK(replace_driver_id(body, "fd5533a3edcb1dcd7fb68918b7caa9e8", "0123456789ab") ==
        R"({"value":{"sessionId":"0123456789ab","x":"0123456789ab"}})");
  CHECK(replace_driver_id("abc", "", "x") == "abc");
}

TEST_CASE("webdriver paths: chromedriver's secret base out of the session's webdriver URL") {
  std::string secret(32, 'f');
  CHECK(driver_url_base("http://127.0.0.1:9515/" + secret) == "/" + secret);
  CHECK(driver_url_base("http://127.0.0.1:9515/" + secret + "/") == "/" + secret);
  CHECK(driver_url_base("http://127.0.0.1:9515") == "");  // started by a corrald before the base
  CHECK(driver_url_base("http://127.0.0.1:9515/") == "");
  CHECK(driver_target(driver_url_base("http://127.0.0.1:9515/" + secret), "d", "/url") == "/" + secret + "/session/d/url");
}

TEST_CASE("webdriver paths: the session's sockets carry its secret before /se/cdp") {
  std::string secret(32, 'a');
  auto path = socket_path("0123456789ab", secret, SocketKind::cdp);
  CHECK(path == "/session/0123456789ab/" + secret + "/se/cdp");
  auto parsed = parse_socket_path(path);
  REQUIRE(parsed);
  CHECK(parsed->secret == secret);
  CHECK(parsed->kind == SocketKind::cdp);
  auto bidi = parse_socket_path("/wd/hub" + socket_path("0123456789ab", secret, SocketKind::bidi));
  REQUIRE(bidi);
  CHECK(bidi->kind == SocketKind::bidi);
  CHECK_FALSE(parse_socket_path("/session/0123456789ab/se/cdp"));
  CHECK_FALSE(parse_socket_path("/session/0123456789ab/" + secret + "/se/cdpx"));
}

TEST_CASE("webdriver paths: a session's relayed base carries its secret, and what follows is the client's") {
  std::string secret(32, 'c');
  auto base = webdriver_base_path("0123456789ab", secret);
  CHECK(base == "/webdriver/0123456789ab/" + secret);
  auto command = parse_relayed_target(base + "/session/0123456789ab/url?x=1");
  REQUIRE(command);
  CHECK(command->session_id == "0123456789ab");
  CHECK(command->secret == secret);
  CHECK(command->rest == "/session/0123456789ab/url?x=1");
  auto status = parse_relayed_target(base + "/status");
  REQUIRE(status);
  CHECK(status->rest == "/status");
  REQUIRE(parse_relayed_target(base));
  CHECK(parse_relayed_target(base)->rest.empty());
  CHECK_FALSE(parse_relayed_target(base + "x/status"));                        // a secret of 33 digits
  CHECK_FALSE(parse_relayed_target("/webdriver/0123456789ab/" + secret.substr(1) + "/status"));
  CHECK_FALSE(parse_relayed_target("/webdriver/0123456789AB/" + secret + "/status"));
  CHECK_FALSE(parse_relayed_target("/webdriver/0123456789ab" + secret + "/status"));
  CHECK_FALSE(parse_relayed_target("/cdp/0123456789ab/" + secret + "/status"));
}

TEST_CASE("webdriver errors: W3C shape and statuses") {
  auto res = invalid_session_id("gone");
  CHECK(res.status == 404);
  CHECK(res.body == R"({"value":{"error":"invalid session id","message":"gone","stacktrace":""}})");
  CHECK(new_session_failure(Error::make(ENOSPC, "full")).status == 500);
  CHECK(new_session_failure(Error::make(EINVAL, "ttl")).status == 400);
  auto refusal = w3c_refusal(401, "unauthorized", "wrong token");
  CHECK(refusal.status == 401);
  CHECK(refusal.body == R"({"value":{"error":"unknown error","message":"unauthorized: wrong token","stacktrace":""}})");
  CHECK(webdriver_rules().access == Access::token_or_basic);
}

TEST_CASE("webdriver paths: under the hub prefix and at the root") {
  std::regex webdriver(webdriver_paths_pattern());
  for (const char* path : {"/status", "/session", "/session/", "/session/x/y", "/wd/hub/status", "/wd/hub/session/x"})
    CHECK_MESSAGE(std::regex_match(std::string(path), webdriver), path);
  for (const char* path :
       {"/v1/sessions", "/sessions", "/wd/hub", "/wd/hubsession", "/wd/hub/wd/hub/status", "/x/status"})
    CHECK_MESSAGE(!std::regex_match(std::string(path), webdriver), path);
  CHECK(without_hub("/wd/hub/session/x") == "/session/x");
  CHECK(without_hub("/wd/hubx/session") == "/wd/hubx/session");
  CHECK(without_hub("/session") == "/session");
}
