#include <doctest/doctest.h>

#include "corral/api/routes.hpp"
#include "corral/api/open_request.hpp"

using namespace corral;

namespace {
int status_of(const std::string& body) {
  auto parsed = parse_session_request(body);
  return parsed.ok() ? 0 : http_status_for(parsed.error().code).first;
}
}  // namespace

TEST_CASE("an empty body or object opens a default chrome session") {
  for (const char* body : {"", "  \n", "{}"}) {
    auto request = parse_session_request(body);
    REQUIRE(request.ok());
    CHECK(request->kind == BrowserKind::chrome);
    CHECK_FALSE(request->limits.any());
  }
}

TEST_CASE("a full request is parsed") {
  auto request = parse_session_request(
      R"({"kind":"chromedriver","memory_max":"1536M","memory_high":1073741824,"cpu_quota":"150%",
          "tasks_max":256,"args":["--verbose"],"labels":{"bot":"embassy","run":"7"}})");
  REQUIRE(request.ok());
  CHECK(request->kind == BrowserKind::chromedriver);
  CHECK(*request->limits.memory_max == 1536ull << 20);
  CHECK(*request->limits.memory_high == 1ull << 30);
  CHECK(*request->limits.cpu_percent == 150);
  CHECK(*request->limits.tasks_max == 256);
  CHECK(request->labels.at("bot") == "embassy");
}

TEST_CASE("malformed bodies are 400") {
  for (const char* body : {"{", "[]", "\"x\"", "null", "{\"kind\":1}", "{\"memory_max\":true}", "{\"args\":\"--x\"}",
                           "{\"args\":[1]}", "{\"labels\":[]}", "{\"labels\":{\"a\":1}}", "{\"unknown\":1}",
                           "{\"tasks_max\":\"lots\"}", "{\"cpu_quota\":[]}", "{\"kind\":\"chrome\"} trailing"})
    CHECK_MESSAGE(status_of(body) == 400, body);
}

TEST_CASE("unacceptable values are 422") {
  for (const char* body :
       {R"({"kind":"firefox"})", R"({"memory_max":-1})", R"({"memory_max":"-1M"})", R"({"memory_max":"lots"})",
        R"({"memory_max":"1.5G"})", R"({"memory_max":1024})", R"({"memory_max":"99999999999T"})",
        R"({"memory_max":18446744073709551616})", R"({"memory_max":1e9})", R"({"tasks_max":2.5})",
        R"({"memory_max":"1G","memory_high":"2G"})", R"({"cpu_quota":"0%"})", R"({"cpu_quota":"abc"})",
        R"({"tasks_max":0})", R"({"tasks_max":-5})", R"({"args":["--renderer-cmd-prefix=sh"]})",
        R"({"args":["--user-data-dir=/"]})", R"({"args":["--no-such-flag"]})", R"({"labels":{"bad key":"x"}})",
        R"({"labels":{"bot":"a\u0000b"}})", R"({"labels":{"bot":"a\nb"}})", R"({"labels":{"bot":"\u001b[2J"}})",
        R"({"labels":{"bot":"a\u007fb"}})", R"({"labels":{"bot":"a\u0085b"}})"})
    CHECK_MESSAGE(status_of(body) == 422, body);
}

TEST_CASE("'max' means no limit") {
  auto request = parse_session_request(R"({"memory_max":"max","tasks_max":"max","cpu_quota":"max"})");
  REQUIRE(request.ok());
  CHECK_FALSE(request->limits.any());
}

TEST_CASE("a body beyond the JSON bounds is a bad request that says which bound") {
  std::string deep = std::string(32'000, '[') + std::string(32'000, ']');
  for (const std::string& body : {deep, R"({"labels":)" + deep + "}"}) {
    auto request = parse_session_request(body);
    REQUIRE_FALSE(request);
    CHECK(status_of(body) == 400);
    CHECK(request.error().message == "the body is JSON nested deeper than 64 levels");
  }
  std::string many = R"({"args":[)";
  for (int i = 0; i < 100'000; ++i) many += "\"\",";
  CHECK(parse_session_request(many + "\"\"]}").error().message == "the body is JSON with more than 100000 values");
}

TEST_CASE("proxy: a URL string or null; anything else a 400 or a 422 that never quotes the password") {
  auto request = parse_session_request(R"({"proxy": "http://alice:s3cret@198.51.100.9:3128"})");
  REQUIRE(request.ok());
  REQUIRE(request->proxy);
  CHECK(request->proxy->username == "alice");
  CHECK(request->proxy->password == "s3cret");
  CHECK_FALSE(parse_session_request(R"({"proxy": null})")->proxy);
  CHECK(status_of(R"({"proxy": 3128})") == 400);
  auto bad = parse_session_request(R"({"proxy": "http://alice:s3cret@198.51.100.9"})");
  REQUIRE_FALSE(bad.ok());
  CHECK(http_status_for(bad.error().code).first == 422);
  CHECK(bad.error().message.find("s3cret") == std::string::npos);
}

TEST_CASE("a session's egress lists are parsed; malformed ones are 400") {
  auto request = parse_session_request(R"({"egress": {"allow": ["198.51.100.0/24:443", "example.com"], "deny": []}})");
  REQUIRE(request);
  REQUIRE(request->egress.allow.size() == 2);
  CHECK(request->egress.allow[0].to_string() == "198.51.100.0/24:443");
  CHECK(request->egress.allow[1].is_name());
  CHECK(parse_session_request("{}")->egress.empty());
  CHECK(status_of(R"({"egress": []})") == 400);
  CHECK(status_of(R"({"egress": {"permit": []}})") == 400);
  CHECK(status_of(R"({"egress": {"allow": "10.0.0.0/8"}})") == 400);
  CHECK(status_of(R"({"egress": {"allow": [7]}})") == 400);
  CHECK(status_of(R"({"egress": {"deny": ["10.0.0.1/8"]}})") == 400);
  CHECK(status_of(R"({"egress": {"deny": ["1.2.3.4:99999"]}})") == 400);
  std::string many = R"({"egress": {"allow": [)";
  for (int i = 0; i < 65; ++i) many += std::string(i ? "," : "") + "\"198.51.100.1\"";
  CHECK(status_of(many + "]}}") == 400);
  auto error = parse_session_request(many + "]}}").error().message;
  CHECK(error.find("at most 64") != std::string::npos);
}

TEST_CASE("network_max_bytes: a whole number of bytes or a size; 0, negatives, fractions and words are refused") {
  CHECK(parse_session_request(R"({"network_max_bytes":5000000})")->network_max_bytes == 5000000u);
  CHECK(parse_session_request(R"({"network_max_bytes":"5M"})")->network_max_bytes == 5u << 20);
  CHECK_FALSE(parse_session_request("{}")->network_max_bytes);
  for (const char* body : {R"({"network_max_bytes":0})", R"({"network_max_bytes":-1})", R"({"network_max_bytes":1.5})",
                           R"({"network_max_bytes":"lots"})", R"({"network_max_bytes":"max"})",
                           R"({"network_max_bytes":18446744073709551616})"})
    CHECK_MESSAGE(status_of(body) == 422, body);
  CHECK(status_of(R"({"network_max_bytes":[1]})") == 400);
}
