#include <doctest/doctest.h>

#include <algorithm>

#include "corral/launch/browser_command.hpp"

using namespace corral;

namespace {

bool has_flag(const LaunchSpec& spec, const std::string& flag) {
  return std::find(spec.argv.begin(), spec.argv.end(), flag) != spec.argv.end();
}

const SessionDirs kDirs = SessionDirs::at("/var/lib/corral", "0123456789ab");

}  // namespace

TEST_CASE("Chrome gets --no-sandbox only when it runs as root") {
  auto as_user = chrome_launch("/usr/bin/chromium", kDirs, {}, Credentials{995, 995});
  CHECK_FALSE(has_flag(as_user, "--no-sandbox"));
  REQUIRE(as_user.run_as.has_value());
  CHECK(as_user.run_as->uid == 995);
  auto as_root = chrome_launch("/usr/bin/chromium", kDirs, {}, Credentials{0, 0});
  CHECK(has_flag(as_root, "--no-sandbox"));
}

TEST_CASE("chromedriver runs as the session user too") {
  auto spec = chromedriver_launch("/usr/bin/chromedriver", kDirs, 9515, "/s3cret", {}, Credentials{995, 995});
  REQUIRE(spec.run_as.has_value());
  CHECK(spec.run_as->gid == 995);
  CHECK(spec.working_directory == kDirs.tmp);
}

TEST_CASE("chromedriver binds loopback only and answers under its secret base") {
  auto spec = chromedriver_launch("/usr/bin/chromedriver", kDirs, 9515, "/s3cret", {"--verbose"}, std::nullopt);
  CHECK(has_flag(spec, "--port=9515"));
  CHECK(has_flag(spec, "--url-base=/s3cret"));
  CHECK(has_flag(spec, "--verbose"));
  // --allowed-ips makes chromedriver bind every interface.
  for (const auto& arg : spec.argv) CHECK_FALSE(arg.starts_with("--allowed-ips"));
}
