#include <doctest/doctest.h>

#include "corral/server/loggable_target.hpp"

using namespace corral;

namespace {
const std::string kId = "0123456789ab";
const std::string kSecret = "00112233445566778899aabbccddeeff";
const std::string kToken = "corral-test-token-4f2a9c";
}  // namespace

TEST_CASE("a session's secret is left out wherever it is in the path") {
  CHECK(loggable_target("/cdp/" + kId + "/" + kSecret + "/json/list") == "/cdp/" + kId + "/…/json/list");
  CHECK(loggable_target("/session/" + kId + "/" + kSecret + "/se/cdp") == "/session/" + kId + "/…/se/cdp");
  CHECK(loggable_target("/wd/hub/session/" + kId + "/" + kSecret + "/se/bidi") ==
        "/wd/hub/session/" + kId + "/…/se/bidi");
  // Percent-encoded, in whole or in part, it is decoded before it is judged.
  CHECK(loggable_target("/cdp/" + kId + "/%30%30112233445566778899aabbccddeeff/json") == "/cdp/" + kId + "/…/json");
  CHECK(loggable_target("/cdp/" + kId + "%2F" + kSecret) == "/cdp/" + kId + "/…");
}

TEST_CASE("query values are left out, whatever the name is written as") {
  CHECK(loggable_target("/devtools/browser?kind=chrome&token=" + kToken + "&x=1") ==
        "/devtools/browser?kind=…&token=…&x=…");
  CHECK(loggable_target("/json/version?%74oken=" + kToken) == "/json/version?token=…");
  CHECK(loggable_target("/devtools/browser?ticket=" + kSecret) == "/devtools/browser?ticket=…");
  CHECK(loggable_target("/v1/sessions?" + kToken) == "/v1/sessions?…=…");
  CHECK(loggable_target("/v1/sessions/" + kId + "?grace=2s") == "/v1/sessions/" + kId + "?grace=2s");
  CHECK(loggable_target("/v1/sessions?wait=30s") == "/v1/sessions?wait=30s");
  CHECK(loggable_target("/v1/sessions?wait=" + kToken) == "/v1/sessions?wait=…");
}

TEST_CASE("nothing a client sends can forge or break a log line") {
  CHECK(loggable_target("/v1/%0d%0aFAKE") == "/v1/??FAKE");
  CHECK(loggable_target("not-a-target") == "…");
  CHECK(loggable_target("/") == "/");
  CHECK(loggable_target("/v1/health") == "/v1/health");
}
