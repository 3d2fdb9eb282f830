#include <doctest/doctest.h>

#include "corral/webdriver/capabilities.hpp"

using namespace corral;
using nlohmann::json;

namespace {

const CorralBrowser kBrowser{"/usr/bin/chromium", {"--headless=new", "--disable-gpu", "--no-first-run"}};

json caps_of(const NewSessionPlan& plan) { return plan.forward["capabilities"]["alwaysMatch"]; }

json with_args(json args) {
  return {{"capabilities", {{"alwaysMatch", {{"browserName", "chrome"}, {"goog:chromeOptions", {{"args", args}}}}}}}};
}

}  // namespace

TEST_CASE("webdriver: alwaysMatch merged with the first firstMatch corral can serve") {
  json body = {{"capabilities",
                {{"alwaysMatch", {{"acceptInsecureCerts", true}}},
                 {"firstMatch", {{{"browserName", "firefox"}}, {{"browserName", "chromium"}, {"pageLoadStrategy", "eager"}}}}}}};
  auto plan = plan_new_session(body, kBrowser);
  REQUIRE(plan);
  auto caps = caps_of(*plan);
  CHECK(caps["browserName"] == "chrome");  // chromedriver knows no "chromium"
  CHECK(caps["acceptInsecureCerts"] == true);
  CHECK(caps["pageLoadStrategy"] == "eager");
  CHECK(caps["goog:chromeOptions"]["binary"] == "/usr/bin/chromium");
  CHECK(caps["goog:chromeOptions"]["args"] == json(kBrowser.flags));
  CHECK(plan->forward["capabilities"]["firstMatch"] == json::array({json::object()}));
  CHECK(plan->request.kind == BrowserKind::chromedriver);
}

TEST_CASE("webdriver: no browser corral runs is 'session not created'; a key in both lists is invalid") {
  auto firefox = plan_new_session({{"capabilities", {{"alwaysMatch", {{"browserName", "firefox"}}}}}}, kBrowser);
  REQUIRE_FALSE(firefox);
  CHECK(firefox.error().code == ENOTSUP);
  auto both = plan_new_session(
      {{"capabilities", {{"alwaysMatch", {{"browserName", "chrome"}}}, {"firstMatch", {{{"browserName", "chrome"}}}}}}},
      kBrowser);
  REQUIRE_FALSE(both);
  CHECK(both.error().code == EINVAL);
  CHECK(plan_new_session(json::array(), kBrowser).error().code == EINVAL);
  CHECK(plan_new_session({{"capabilities", {{"firstMatch", json::array()}}}}, kBrowser).error().code == EINVAL);
}

TEST_CASE("webdriver: legacy desiredCapabilities keep only W3C keys") {
  json body = {{"desiredCapabilities",
                {{"browserName", "chrome"}, {"platform", "ANY"}, {"chromeOptions", {{"args", {"--window-size=800,600"}}}}}}};
  auto plan = plan_new_session(body, kBrowser);
  REQUIRE(plan);
  auto caps = caps_of(*plan);
  CHECK_FALSE(caps.contains("platform"));
  CHECK(caps["goog:chromeOptions"]["args"].back() == "--window-size=800,600");
}

TEST_CASE("webdriver: flags corral sets are dropped, isolation flags dropped with a warning, the rest allowlisted") {
  auto plan = plan_new_session(with_args({"--headless", "--disable-gpu", "--no-sandbox", "--user-data-dir=/tmp/x",
                                          "--remote-debugging-port=9222", "window-size=800,600", "--lang=de"}),
                               kBrowser);
  REQUIRE(plan);
  auto args = caps_of(*plan)["goog:chromeOptions"]["args"];
  CHECK(args == json({"--headless=new", "--disable-gpu", "--no-first-run", "--window-size=800,600", "--lang=de"}));
  CHECK(plan->warnings.size() == 3);

  auto command = plan_new_session(with_args({"--renderer-cmd-prefix=/bin/sh"}), kBrowser);
  REQUIRE_FALSE(command);
  CHECK(command.error().code == EINVAL);
  CHECK(command.error().message.find("forbidden") != std::string::npos);
  CHECK(plan_new_session(with_args({"--not-on-the-list"}), kBrowser).error().code == EINVAL);
  CHECK(plan_new_session(with_args("--lang=de"), kBrowser).error().code == EINVAL);
}

TEST_CASE("webdriver: binary and debuggerAddress refused, extensions pass") {
  auto options = [](json chrome) {
    return json{{"capabilities", {{"alwaysMatch", {{"goog:chromeOptions", chrome}}}}}};
  };
  CHECK(plan_new_session(options({{"binary", "/bin/sh"}}), kBrowser).error().code == EINVAL);
  CHECK(plan_new_session(options({{"debuggerAddress", "127.0.0.1:9222"}}), kBrowser).error().code == EINVAL);
  auto plan = plan_new_session(options({{"extensions", {"Q3IyNA=="}}}), kBrowser);
  REQUIRE(plan);
  CHECK(caps_of(*plan)["goog:chromeOptions"]["extensions"] == json({"Q3IyNA=="}));
}

TEST_CASE("webdriver: corral:options as the POST /v1/sessions body, taken out before forwarding") {
  json body = {{"capabilities",
                {{"alwaysMatch", {{"corral:options", {{"memory_max", "1G"}, {"idle_timeout", "30s"}, {"labels", {{"bot", "a"}}}}},
                                  {"webSocketUrl", true}}}}}};
  auto plan = plan_new_session(body, kBrowser);
  REQUIRE(plan);
  CHECK_FALSE(caps_of(*plan).contains("corral:options"));
  CHECK(plan->request.limits.memory_max == uint64_t{1} << 30);
  CHECK(plan->request.idle_timeout == std::chrono::seconds(30));
  CHECK(plan->request.labels.at("bot") == "a");
  CHECK(plan->bidi);
  CHECK(plan->corral_options);  // a relayed session (open already) refuses them
  CHECK_FALSE(plan_new_session(with_args(json::array()), kBrowser)->corral_options);
  auto opts = [](json fields) {
    return json{{"capabilities", {{"alwaysMatch", {{"corral:options", fields}}}}}};
  };
  CHECK(plan_new_session(opts({{"kind", "chrome"}}), kBrowser).error().code == EINVAL);
  CHECK(plan_new_session(opts({{"memory_max", "lots"}}), kBrowser).error().code == EINVAL);
  CHECK(plan_new_session(opts({{"unknown", 1}}), kBrowser).error().code == EINVAL);
  CHECK(plan_new_session(opts({{"args", {"--renderer-cmd-prefix=x"}}}), kBrowser).error().code == EINVAL);
}

TEST_CASE("webdriver: chromedriver's answer read, and rewritten for the bot") {
  std::string answer = R"({"value":{"sessionId":"fd5533a3edcb1dcd7fb68918b7caa9e8","capabilities":{
      "browserName":"chrome","goog:chromeOptions":{"debuggerAddress":"localhost:35419"},
      "webSocketUrl":"ws://localhost:9517/session/fd5533a3edcb1dcd7fb68918b7caa9e8"}}})";
  auto driver = parse_driver_session(answer);
  REQUIRE(driver);
  CHECK(driver->id == "fd5533a3edcb1dcd7fb68918b7caa9e8");
  CHECK(driver->debugger_port == 35419);
  SessionUrls urls{"ws://h:1/session/0123456789ab/s/se/cdp", "156.0", "ws://h:1/session/0123456789ab/s/se/bidi"};
  auto reply = client_new_session_reply(*driver, "0123456789ab", urls, {"one"});
  auto caps = reply["value"]["capabilities"];
  CHECK(reply["value"]["sessionId"] == "0123456789ab");
  CHECK_FALSE(caps["goog:chromeOptions"].contains("debuggerAddress"));
  CHECK(caps["se:cdp"] == *urls.cdp);
  CHECK(caps["se:forwardCdp"] == *urls.cdp);
  CHECK(caps["se:cdpVersion"] == "156.0");
  CHECK(caps["webSocketUrl"] == *urls.bidi);
  // Only the warning given: chromedriver's own debuggerAddress is no news to the bot.
  CHECK(caps["corral:warnings"] == nlohmann::json::array({"one"}));
  auto quiet = client_new_session_reply(*driver, "0123456789ab", urls, {});
  CHECK_FALSE(quiet["value"]["capabilities"].contains("corral:warnings"));
  CHECK_FALSE(quiet["value"]["capabilities"]["goog:chromeOptions"].contains("debuggerAddress"));
  CHECK(reply.dump().find("fd5533a3") == std::string::npos);
  CHECK_FALSE(parse_driver_session(R"({"value":{"error":"session not created"}})"));
  CHECK(cdp_version_of("Chrome/156.0.8078.114") == "156.0.8078.114");
}

TEST_CASE("webdriver: every firstMatch entry is checked, the one chosen is merged whole") {
  std::string extension(1 << 20, 'Q');  // moved through the plan, not copied: it arrives intact
  json body = {{"capabilities",
                {{"alwaysMatch", {{"goog:chromeOptions", {{"extensions", {extension}}}}}},
                 {"firstMatch", {{{"browserName", "firefox"}}, {{"webSocketUrl", true}}, {{"browserName", "chrome"}}}}}}};
  auto plan = plan_new_session(std::move(body), kBrowser);
  REQUIRE(plan);
  auto caps = caps_of(*plan);
  CHECK(caps["webSocketUrl"] == true);
  CHECK_FALSE(caps.contains("browserName"));  // the second entry was chosen, not the third
  CHECK(plan->bidi);
  CHECK(caps["goog:chromeOptions"]["extensions"] == json::array({extension}));
  json late_conflict = {{"capabilities",
                         {{"alwaysMatch", {{"acceptInsecureCerts", true}}},
                          {"firstMatch", {json::object(), {{"acceptInsecureCerts", false}}}}}}};
  CHECK(plan_new_session(late_conflict, kBrowser).error().code == EINVAL);
  json late_garbage = {{"capabilities", {{"firstMatch", {json::object(), 7}}}}};
  CHECK(plan_new_session(late_garbage, kBrowser).error().code == EINVAL);
}

TEST_CASE("webdriver: chromedriver's answer beyond the JSON bounds is refused, not read") {
  std::string deep = R"({"value":{"sessionId":"x","capabilities":{"a":)" + std::string(100'000, '[') +
                     std::string(100'000, ']') + "}}}";
  auto driver = parse_driver_session(deep);
  REQUIRE_FALSE(driver);
  CHECK(driver.error().code == EBADMSG);
  CHECK(driver.error().message == "chromedriver's new-session answer was refused: JSON nested deeper than 64 levels");
}

TEST_CASE("webdriver: a proxy capability or proxy flag is refused; corral's own proxy flags pass through") {
  json manual = {{"capabilities", {{"alwaysMatch", {{"proxy", {{"proxyType", "direct"}}}}}}}};
  auto refused = plan_new_session(manual, kBrowser);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == EINVAL);
  CHECK(refused.error().message.find("'proxy'") != std::string::npos);
  CHECK_FALSE(plan_new_session(with_args({"--proxy-server=direct://"}), kBrowser).ok());
  // corral's way out, in its flags: the bot repeating it changes nothing.
  const CorralBrowser own{"/usr/bin/chromium", {"--headless=new", "--proxy-server=socks5://127.0.0.1:1080"}};
  auto plan = plan_new_session(with_args({"--proxy-server=socks5://127.0.0.1:1080"}), own);
  REQUIRE(plan);
  CHECK(caps_of(*plan)["goog:chromeOptions"]["args"] ==
        json({"--headless=new", "--proxy-server=socks5://127.0.0.1:1080"}));
}

TEST_CASE("webdriver: corral:options takes a session's upstream proxy") {
  json body = {{"capabilities",
                {{"alwaysMatch", {{"corral:options", {{"proxy", "http://alice:pw@198.51.100.9:3128"}}}}}}}};
  auto plan = plan_new_session(body, kBrowser);
  REQUIRE(plan);
  REQUIRE(plan->request.proxy);
  CHECK(plan->request.proxy->redacted() == "http://alice:***@198.51.100.9:3128");
  CHECK(caps_of(*plan).dump().find("pw@") == std::string::npos);
}

TEST_CASE("webdriver: corral:options carries network_max_bytes") {
  json body = {{"capabilities", {{"alwaysMatch", {{"corral:options", {{"network_max_bytes", 5000000}}}}}}}};
  auto plan = plan_new_session(body, kBrowser);
  REQUIRE(plan);
  CHECK(plan->request.network_max_bytes == 5000000u);
  body["capabilities"]["alwaysMatch"]["corral:options"]["network_max_bytes"] = 0;
  CHECK(plan_new_session(body, kBrowser).error().code == EINVAL);
}

namespace {

// Why a warm chromedriver cannot serve `always` (alwaysMatch), "" when it can.
std::string attach_miss(json always) {
  auto plan = plan_new_session({{"capabilities", {{"alwaysMatch", std::move(always)}}}}, kBrowser);
  REQUIRE(plan);
  return plan->request.warm_attach_miss;
}

}  // namespace

TEST_CASE("webdriver: a warm chromedriver serves what attaching honours, and nothing it would ignore") {
  // What Selenium's Python and Java clients send by default, and the flags corral drops or sets itself.
  CHECK(attach_miss({{"browserName", "chrome"}, {"pageLoadStrategy", "normal"},
                     {"goog:chromeOptions", {{"args", json::array()}, {"extensions", json::array()}}}}) == "");
  CHECK(attach_miss({{"goog:chromeOptions", {{"args", {"--headless=new", "--no-sandbox"}}}}}) == "");
  CHECK(attach_miss({{"timeouts", {{"implicit", 0}}}, {"unhandledPromptBehavior", "dismiss"},
                     {"acceptInsecureCerts", false}, {"webSocketUrl", false}, {"platformName", "linux"}}) == "");
  CHECK(attach_miss({{"goog:chromeOptions", {{"w3c", true}, {"detach", false}, {"prefs", json::object()},
                                             {"excludeSwitches", json::array()}}}}) == "");
  // What attaching would silently ignore, or is not known to hold attached: a miss, named.
  CHECK(attach_miss({{"goog:chromeOptions", {{"args", {"--window-size=800,600"}}}}}).find("args") != std::string::npos);
  CHECK(attach_miss({{"goog:chromeOptions", {{"extensions", {"Q1JYMw=="}}}}}).find("extensions") != std::string::npos);
  CHECK(attach_miss({{"goog:chromeOptions", {{"prefs", {{"intl.accept_languages", "de"}}}}}}).find("prefs") !=
        std::string::npos);
  for (const char* key : {"excludeSwitches", "mobileEmulation", "localState", "perfLoggingPrefs", "windowTypes"})
    CHECK(attach_miss({{"goog:chromeOptions", {{key, {"x"}}}}}) != "");
  CHECK(attach_miss({{"goog:chromeOptions", {{"detach", true}}}}).find("detach") != std::string::npos);
  CHECK(attach_miss({{"acceptInsecureCerts", true}}).find("acceptInsecureCerts") != std::string::npos);
  CHECK(attach_miss({{"webSocketUrl", true}}) != "");
  CHECK(attach_miss({{"goog:loggingPrefs", {{"browser", "ALL"}}}}) != "");
  CHECK(attach_miss({{"browserVersion", "156"}}) != "");
  // Another vendor's extension capability: chromedriver ignores it launching or attaching (Grid routes with
  // them; bench/grid's first warm run missed every start on `bench:side`). chromedriver's own stay misses.
  CHECK(attach_miss({{"bench:side", "corral"}, {"se:name", "login test"}}) == "");
  CHECK(attach_miss({{"webauthn:virtualAuthenticators", true}}) != "");
  CHECK(attach_miss({{"goog:perfLoggingPrefs", json::object()}}) != "");
  CHECK(attach_miss({{":odd", 1}}) != "");
  // corral:options is corral's, not chromedriver's: its fields follow warm_miss_reason.
  CHECK(attach_miss({{"corral:options", {{"labels", {{"bot", "b"}}}}}}) == "");
}

TEST_CASE("webdriver: a warm hit forwards the session attached, corral naming the browser") {
  auto plan = plan_new_session(with_args({"--headless=new"}), kBrowser);
  REQUIRE(plan);
  attach_to_warm_browser(plan->forward, 40123);
  auto caps = caps_of(*plan);
  CHECK(caps["goog:chromeOptions"] == json({{"debuggerAddress", "127.0.0.1:40123"}}));
  CHECK(caps["browserName"] == "chrome");
  // The body a warm chromedriver starts its browser with is a cold session's.
  auto body = json::parse(warm_driver_session_body(kBrowser));
  auto launched = body["capabilities"]["alwaysMatch"]["goog:chromeOptions"];
  CHECK(launched["binary"] == "/usr/bin/chromium");
  CHECK(launched["args"] == json(kBrowser.flags));
}
