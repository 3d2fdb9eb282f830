#include <doctest/doctest.h>

#include "corral/launch/chrome_flags.hpp"

using namespace corral;

TEST_CASE("harmless Chrome flags pass") {
  CHECK(check_client_args(BrowserKind::chrome, {"--window-size=1280,800", "--lang=de", "--mute-audio"}).ok());
  CHECK(check_client_args(BrowserKind::chromedriver, {"--verbose"}).ok());
}

TEST_CASE("command-running and takeover flags are refused by name") {
  for (const char* flag : {"--renderer-cmd-prefix=/bin/sh -c id", "--utility-cmd-prefix=x", "--gpu-launcher=x",
                           "--browser-subprocess-path=/tmp/x", "--user-data-dir=/root", "--remote-debugging-port=9222",
                           "--remote-debugging-pipe", "--remote-debugging-whatever=1", "--load-extension=/tmp/e"}) {
    auto checked = check_client_args(BrowserKind::chrome, {flag});
    REQUIRE_FALSE_MESSAGE(checked.ok(), flag);
    CHECK(checked.error().code == EINVAL);
    CHECK(checked.error().message.find("forbidden") != std::string::npos);
  }
}

TEST_CASE("flags off the allowlist and non-flags are refused") {
  CHECK(check_client_args(BrowserKind::chrome, {"--enable-logging"}).error().message.find("allowlist") !=
        std::string::npos);
  CHECK_FALSE(check_client_args(BrowserKind::chrome, {"https://example.org"}).ok());
  CHECK_FALSE(check_client_args(BrowserKind::chrome, {"-x"}).ok());
  CHECK_FALSE(check_client_args(BrowserKind::chrome, {"--"}).ok());
  CHECK_FALSE(check_client_args(BrowserKind::chromedriver, {"--window-size=1,1"}).ok());
  CHECK_FALSE(check_client_args(BrowserKind::chrome, std::vector<std::string>(65, "--mute-audio")).ok());
}

TEST_CASE("parse_browser_kind") {
  CHECK(*parse_browser_kind("chrome") == BrowserKind::chrome);
  CHECK(*parse_browser_kind("chromedriver") == BrowserKind::chromedriver);
  CHECK(parse_browser_kind("firefox").error().code == EINVAL);
}

TEST_CASE("a bot's own proxy flags are refused: the way out is corral's") {
  for (const char* flag : {"--proxy-server=direct://", "--proxy-server=socks5://127.0.0.1:9515",
                           "--proxy-bypass-list=<loopback>", "--proxy-pac-url=data:,", "--no-proxy-server"}) {
    auto checked = check_client_args(BrowserKind::chrome, {flag});
    REQUIRE_FALSE_MESSAGE(checked.ok(), flag);
    CHECK(checked.error().message.find("way out is corral's") != std::string::npos);
  }
}
