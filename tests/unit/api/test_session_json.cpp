#include <doctest/doctest.h>

#include "corral/api/session_json.hpp"

using namespace corral;

namespace {

SessionInfo chromedriver_session() {
  SessionInfo session;
  session.id = "0123456789ab";
  session.request.kind = BrowserKind::chromedriver;
  session.state = SessionState::running;
  session.access_secret = "00112233445566778899aabbccddeeff";
  session.endpoints.devtools_http = "http://127.0.0.1:40001";
  session.endpoints.webdriver = "http://127.0.0.1:40002/ffeeddccbbaa99887766554433221100";
  return session;
}

}  // namespace

TEST_CASE("session JSON: a chromedriver session's webdriver is its relayed base on corral, never chromedriver's own") {
  auto session = chromedriver_session();
  auto body = session_json(session, public_base_from_host("10.0.0.1:8420"));
  CHECK(body["webdriver"] == "http://10.0.0.1:8420/webdriver/0123456789ab/00112233445566778899aabbccddeeff");
  auto text = body.dump();
  CHECK(text.find("40002") == std::string::npos);
  CHECK(text.find("ffeeddccbbaa99887766554433221100") == std::string::npos);
  // Behind --public-url, its prefix; on a unix socket (no base) there is no URL to give.
  auto behind = session_json(session, parse_public_url("https://corral.example/c").value());
  CHECK(behind["webdriver"] == "https://corral.example/c/webdriver/0123456789ab/00112233445566778899aabbccddeeff");
  CHECK(session_json(session, std::nullopt)["webdriver"].is_null());
}

TEST_CASE("session JSON: a session without chromedriver has no webdriver") {
  auto session = chromedriver_session();
  session.request.kind = BrowserKind::chrome;
  session.endpoints.webdriver.reset();
  CHECK(session_json(session, public_base_from_host("10.0.0.1:8420"))["webdriver"].is_null());
}

TEST_CASE("session JSON: controlled_by_console holds until the console's mark lapses") {
  auto session = chromedriver_session();
  CHECK(session_json(session, std::nullopt)["controlled_by_console"] == false);
  session.console_control_until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  CHECK(session_json(session, std::nullopt)["controlled_by_console"] == true);
  session.console_control_until = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  CHECK(session_json(session, std::nullopt)["controlled_by_console"] == false);
}

TEST_CASE("session JSON: the network shows the proxy redacted, and the proxy's refusals") {
  auto session = chromedriver_session();
  session.request.proxy = parse_upstream_proxy("socks5://bob:hunter2@198.51.100.9:1080").value();
  EgressCounters counts;
  counts.proxy_refused = 3;
  session.egress = counts;
  auto body = session_json(session, std::nullopt);
  CHECK(body["network"]["proxy"] == "socks5://bob:***@198.51.100.9:1080");
  CHECK(body["network"]["egress"]["proxy_refused"] == 3);
  CHECK(body.dump().find("hunter2") == std::string::npos);
  session.request.proxy.reset();
  CHECK(session_json(session, std::nullopt)["network"]["proxy"].is_null());
}

TEST_CASE("session JSON: bytes in and out in stats and the report, the cap in network") {
  auto session = chromedriver_session();
  session.stats = CgroupStats{};
  session.egress = EgressCounters{};
  session.egress->bytes_in = 20000000;
  session.egress->bytes_out = 12345;
  session.network_max_bytes = 50000000;
  auto body = session_json(session, std::nullopt);
  CHECK(body["stats"]["network_bytes_in"] == 20000000);
  CHECK(body["stats"]["network_bytes_out"] == 12345);
  CHECK(body["network"]["max_bytes"] == 50000000);
  session.egress.reset();  // a shared network counts nothing: null, not 0
  CHECK(session_json(session, std::nullopt)["stats"]["network_bytes_in"].is_null());
  session.state = SessionState::closed;
  session.report = CloseReport{};
  session.report->reason = CloseReason::network_limit;
  session.report->network_bytes_in = 5300000;
  session.report->network_bytes_out = 4000;
  auto report = session_json(session, std::nullopt)["report"];
  CHECK(report["reason"] == "network-limit");
  CHECK(report["network_bytes_in"] == 5300000);
  CHECK(report["network_bytes_out"] == 4000);
}
