// The session manager's side of network_max_bytes, on fakes: which cap a
// session gets, what is refused, the close its way out asks for, and what
// the report and the state file keep.
#include <doctest/doctest.h>

#include "corral/session/records.hpp"
#include "corral/session/usage_metrics.hpp"
#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

namespace {

constexpr uint64_t kMB = 1000 * 1000;

SessionRequest capped(uint64_t bytes) {
  SessionRequest request;
  request.network_max_bytes = bytes;
  return request;
}

}  // namespace

TEST_CASE("a session gets its own cap, else the daemon's default, and its browser's way out is capped with it") {
  ManagerFixture f;
  f.config.network_counted = true;
  f.config.default_network_max_bytes = 50 * kMB;
  auto asked = f.open_ok(capped(5 * kMB));
  CHECK(asked.network_max_bytes == 5 * kMB);
  CHECK(f.launcher.browser(asked.pid).network_cap == 5 * kMB);
  auto defaulted = f.open_ok();
  CHECK(defaulted.network_max_bytes == 50 * kMB);
  CHECK(f.launcher.browser(defaulted.pid).network_cap == 50 * kMB);
}

TEST_CASE("without a default no cap is set, and without counting a cap is refused, not silently ignored") {
  ManagerFixture f;
  f.config.network_counted = true;
  auto free = f.open_ok();
  CHECK_FALSE(free.network_max_bytes);
  CHECK_FALSE(f.launcher.browser(free.pid).network_cap);
  ManagerFixture shared;
  shared.config.default_network_max_bytes = 50 * kMB;  // main.cpp drops it there; the manager ignores it too
  auto opened = shared.manager().open(capped(5 * kMB));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == EOPNOTSUPP);
  CHECK_FALSE(shared.open_ok().network_max_bytes);
}

TEST_CASE("a cap above the daemon's maximum is EINVAL and nothing starts") {
  ManagerFixture f;
  f.config.network_counted = true;
  f.config.max_network_max_bytes = 10 * kMB;
  auto opened = f.manager().open(capped(10 * kMB + 1));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == EINVAL);
  CHECK(opened.error().message.find("network_max_bytes") != std::string::npos);
  CHECK(f.manager().list().empty());
  CHECK(f.host_is_clean());
  CHECK(f.open_ok(capped(10 * kMB)).network_max_bytes == 10 * kMB);
}

TEST_CASE("past its cap a session is closed with reason network-limit and its bytes in the report") {
  ManagerFixture f;
  f.config.network_counted = true;
  auto info = f.open_ok(capped(5 * kMB));
  f.launcher.count_network(info.pid, 5 * kMB + 7, 1234);
  REQUIRE(f.launcher.go_over_network_cap(info.pid));
  REQUIRE(eventually([&] { return f.manager().get(info.id)->state == SessionState::closed; }));
  auto closed = f.manager().get(info.id);
  REQUIRE(closed->report);
  CHECK(closed->report->reason == CloseReason::network_limit);
  CHECK(std::string(close_reason_name(closed->report->reason)) == "network-limit");
  CHECK(closed->report->network_bytes_in == 5 * kMB + 7);
  CHECK(closed->report->network_bytes_out == 1234u);
  CHECK(f.host_is_clean());
  f.launcher.go_over_network_cap(info.pid);  // told again: nothing to close twice
  CHECK(f.manager().get(info.id)->report->reason == CloseReason::network_limit);
}

TEST_CASE("the cap survives in the state file, and an adopted session is capped again") {
  ManagerFixture f;
  f.config.network_counted = true;
  auto info = f.open_ok(capped(5 * kMB));
  auto records = load_session_records(session_records_path(f.state.path()));
  REQUIRE(records);
  REQUIRE(records->size() == 1);
  CHECK(records->front().info.network_max_bytes == 5 * kMB);
  CHECK(records->front().info.request.network_max_bytes == 5 * kMB);
  f.manager_ptr.reset();  // the daemon goes; the browser stays
  auto& recovered = f.manager();
  REQUIRE(recovered.recover());
  auto adopted = recovered.get(info.id);
  REQUIRE(adopted);
  CHECK(adopted->network_max_bytes == 5 * kMB);
  CHECK(f.launcher.browser(info.pid).network_cap == 5 * kMB);
}

TEST_CASE("usage metrics count bytes in and out by the label, and a histogram of each session's total at close") {
  UsageMetrics metrics({"bot", 32, true});
  SessionInfo live;
  live.id = "live-1";
  live.state = SessionState::running;
  live.request.labels["bot"] = "crawler";
  live.stats = CgroupStats{};
  live.egress = EgressCounters{};
  live.egress->bytes_in = 3 * kMB;
  live.egress->bytes_out = 1000;
  std::vector<SessionInfo> running = {live};
  auto text = metrics.render([&] { return running; }, {}, Controllers{});
  CHECK(text.find("corral_sessions_network_in_bytes_total{bot=\"crawler\"} 3000000\n") != std::string::npos);
  CHECK(text.find("corral_sessions_network_out_bytes_total{bot=\"crawler\"} 1000\n") != std::string::npos);
  // It closes before the next scrape: its bytes stay in the counters, and its total joins the histogram.
  CloseReport report;
  report.id = "live-1";
  report.network_bytes_in = 4 * kMB;
  report.network_bytes_out = 2000;
  metrics.session_closed(live.request.labels, report);
  running.clear();
  text = metrics.render([&] { return running; }, {}, Controllers{});
  CHECK(text.find("corral_sessions_network_in_bytes_total{bot=\"crawler\"} 4000000\n") != std::string::npos);
  CHECK(text.find("corral_session_network_bytes_bucket{bot=\"crawler\",le=\"10000000\"} 1\n") != std::string::npos);
  CHECK(text.find("corral_session_network_bytes_bucket{bot=\"crawler\",le=\"1000000\"} 0\n") != std::string::npos);
  CHECK(text.find("corral_session_network_bytes_sum{bot=\"crawler\"} 4002000\n") != std::string::npos);
  UsageMetrics uncounted({"bot", 32, false});
  CHECK(uncounted.render([&] { return running; }, {}, Controllers{}).find("network") == std::string::npos);
}
