#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "corral/devtools/paths.hpp"

using namespace corral;
using nlohmann::json;

namespace {
const std::string kId = "0123456789ab";
const std::string kSecret = "00112233445566778899aabbccddeeff";
const std::string kBase = "/cdp/" + kId + "/" + kSecret;
}  // namespace

TEST_CASE("a session's DevTools target is split into id, secret and what the browser gets") {
  auto target = parse_devtools_target(kBase + "/json/version/");
  REQUIRE(target);
  CHECK(target->session_id == kId);
  CHECK(target->secret == kSecret);
  CHECK(target->rest == "/json/version/");
  CHECK(parse_devtools_target(kBase)->rest == "/");
  CHECK(parse_devtools_target(kBase + "?x=1")->rest == "/?x=1");
  CHECK(parse_devtools_target(kBase + "/devtools/page/AB12?x")->rest == "/devtools/page/AB12?x");
  const std::vector<std::string> bad_targets{
      "/cdp/", "/cdp/0123456789ab", "/cdp/0123456789ab/", "/cdp/0123456789AB/" + kSecret,
                   "/cdp/0123456789a/" + kSecret, "/cdp/" + kId + "/short", "/cdp/" + kId + "/" + kSecret + "0",
                   "/devtools/browser", "/CDP/" + kId + "/" + kSecret};
  for (const auto& bad : bad_targets)
    CHECK_MESSAGE(!parse_devtools_target(bad), bad);
}

TEST_CASE("Chrome's /json answers point at corral, with the session's base") {
  const char* list = R"([{"id":"AB12","type":"page","url":"about:blank",
    "webSocketDebuggerUrl":"ws://127.0.0.1:40123/devtools/page/AB12",
    "devtoolsFrontendUrl":"/devtools/inspector.html?ws=127.0.0.1:40123/devtools/page/AB12"}])";
  auto base = public_base_from_host("10.0.0.1:8420");
  auto rewritten = rewrite_devtools_json(list, 40123, base, kBase);
  REQUIRE(rewritten);
  auto page = json::parse(*rewritten)[0];
  CHECK(page["webSocketDebuggerUrl"] == "ws://10.0.0.1:8420" + kBase + "/devtools/page/AB12");
  CHECK(page["devtoolsFrontendUrl"] ==
        kBase + "/devtools/inspector.html?ws=10.0.0.1:8420" + kBase + "/devtools/page/AB12");
  CHECK(page["url"] == "about:blank");
  const char* version = R"({"Browser":"Chrome/156","webSocketDebuggerUrl":"ws://127.0.0.1:40123/devtools/browser/x-y"})";
  auto tls = *parse_public_url("https://corral.example/c");
  CHECK(json::parse(*rewrite_devtools_json(version, 40123, tls, kBase))["webSocketDebuggerUrl"] ==
        "wss://corral.example/c" + kBase + "/devtools/browser/x-y");
}

TEST_CASE("a browser that names a WebSocket elsewhere is not passed on") {
  const char* version = R"({"webSocketDebuggerUrl":"ws://evil.example:80/devtools/browser/x"})";
  CHECK(rewrite_devtools_json(version, 40123, public_base_from_host("h:1"), kBase).error().code == EBADMSG);
  const char* other_port = R"({"webSocketDebuggerUrl":"ws://127.0.0.1:9/devtools/browser/x"})";
  CHECK(!rewrite_devtools_json(other_port, 40123, public_base_from_host("h:1"), kBase));
  CHECK(*rewrite_devtools_json("not json", 40123, public_base_from_host("h:1"), kBase) == "not json");
}

TEST_CASE("a browser's answer nested beyond the JSON bounds is refused, not walked") {
  std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto refused = rewrite_devtools_json(deep, 40123, public_base_from_host("h:1"), kBase);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == EBADMSG);
  CHECK(refused.error().message == "the browser's answer is JSON nested deeper than 64 levels");
}
