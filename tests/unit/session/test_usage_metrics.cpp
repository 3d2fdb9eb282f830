#include <doctest/doctest.h>

#include "corral/session/usage_metrics.hpp"
#include "fakes/manager_fixture.hpp"

using namespace corral;

namespace {

SessionInfo running(const std::string& bot, uint64_t cpu_usec, uint64_t processes,
                    std::optional<uint64_t> memory = std::nullopt) {
  static int sessions_made = 0;
  SessionInfo info;
  info.id = "session-" + std::to_string(++sessions_made);
  info.state = SessionState::running;
  if (!bot.empty()) info.request.labels["bot"] = bot;
  info.stats = CgroupStats{memory, memory, std::nullopt, cpu_usec, processes};
  return info;
}

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

const Controllers kNoMemory{false, false, false};
const Controllers kMemory{true, true, true};

}  // namespace

TEST_CASE("usage metrics sum the running sessions by the metrics label") {
  UsageMetrics metrics({"bot", 32});
  std::vector<SessionInfo> live = {running("a", 1500000, 5), running("a", 500000, 3), running("", 0, 1)};
  auto text = metrics.render([&] { return live; }, {}, kNoMemory);
  CHECK(has(text, "corral_sessions_running{bot=\"a\"} 2"));
  CHECK(has(text, "corral_sessions_running{bot=\"\"} 1"));
  CHECK(has(text, "corral_sessions_processes{bot=\"a\"} 8"));
  CHECK(has(text, "corral_sessions_cpu_seconds_total{bot=\"a\"} 2"));
  CHECK(has(text, "corral_session_processes_bucket{le=\"5\"} 3"));
  CHECK(has(text, "corral_session_processes_bucket{le=\"2\"} 1"));
  CHECK(has(text, "corral_session_cpu_seconds_bucket{le=\"1\"} 2"));
  CHECK(has(text, "corral_session_cpu_seconds_count 3"));
}

TEST_CASE("without the memory controller no memory series is shown at all") {
  UsageMetrics metrics({"", 32});
  CloseReport report;
  report.memory_peak = std::nullopt;
  metrics.session_closed({}, report);
  auto text = metrics.render([] { return std::vector<SessionInfo>{running("", 0, 1)}; }, {}, kNoMemory);
  CHECK(text.find("memory") == std::string::npos);
  CHECK(has(text, "corral_sessions_running 1"));
}

TEST_CASE("with the memory controller: sums, snapshot distribution and peak at close") {
  UsageMetrics metrics({"", 32});
  CloseReport report;
  report.memory_peak = 300u << 20;
  metrics.session_closed({}, report);
  auto text = metrics.render([] { return std::vector<SessionInfo>{running("", 0, 1, 100u << 20)}; }, {}, kMemory);
  CHECK(has(text, "corral_sessions_memory_bytes 104857600"));
  CHECK(has(text, "corral_session_memory_bytes_bucket{le=\"134217728\"} 1"));
  CHECK(has(text, "corral_session_memory_bytes_bucket{le=\"67108864\"} 0"));
  CHECK(has(text, "corral_session_memory_peak_bytes_bucket{le=\"268435456\"} 0"));
  CHECK(has(text, "corral_session_memory_peak_bytes_bucket{le=\"536870912\"} 1"));
  CHECK(has(text, "corral_session_memory_peak_bytes_count 1"));
}

TEST_CASE("the CPU counter keeps what closed sessions used: it never goes down") {
  UsageMetrics metrics({"bot", 32});
  std::vector<SessionInfo> live = {running("a", 2000000, 1)};
  CHECK(has(metrics.render([&] { return live; }, {}, kNoMemory), "corral_sessions_cpu_seconds_total{bot=\"a\"} 2"));
  CloseReport report;
  report.id = live[0].id;
  report.cpu_usage_usec = 2500000;  // read at close, after the last scrape
  live.clear();  // closing: no longer listed as running, its close not reported yet
  CHECK(has(metrics.render([&] { return live; }, {}, kNoMemory), "corral_sessions_cpu_seconds_total{bot=\"a\"} 2"));
  metrics.session_closed({{"bot", "a"}}, report);
  auto text = metrics.render([&] { return live; }, {}, kNoMemory);
  CHECK(has(text, "corral_sessions_cpu_seconds_total{bot=\"a\"} 2.5"));
  CHECK(has(text, "corral_sessions_running{bot=\"a\"} 0"));  // the series stays, at 0
}

TEST_CASE("label values are kept in the order sessions open, not the order a scrape lists them") {
  UsageMetrics metrics({"bot", 1});
  metrics.browser_started(BrowserKind::chrome, {{"bot", "zeta"}}, std::chrono::seconds(1));
  metrics.browser_started(BrowserKind::chrome, {{"bot", "alpha"}}, std::chrono::seconds(1));
  std::vector<SessionInfo> live = {running("alpha", 0, 1), running("zeta", 0, 1)};
  auto text = metrics.render([&] { return live; }, {}, kNoMemory);
  CHECK(has(text, "corral_sessions_running{bot=\"zeta\"} 1"));
  CHECK(has(text, "corral_sessions_running{bot=\"other\"} 1"));
}

TEST_CASE("start times are a histogram per kind") {
  UsageMetrics metrics({"", 32});
  metrics.browser_started(BrowserKind::chrome, {}, std::chrono::milliseconds(300));
  metrics.browser_started(BrowserKind::chrome, {}, std::chrono::seconds(3));
  auto text = metrics.render([] { return std::vector<SessionInfo>{}; }, {}, kNoMemory);
  CHECK(has(text, "corral_browser_start_seconds_bucket{kind=\"chrome\",le=\"0.5\"} 1"));
  CHECK(has(text, "corral_browser_start_seconds_bucket{kind=\"chrome\",le=\"5\"} 2"));
  CHECK(has(text, "corral_browser_start_seconds_count{kind=\"chrome\"} 2"));
  CHECK(has(text, "corral_browser_start_seconds_count{kind=\"chromedriver\"} 0"));
}

TEST_CASE("the all-sessions cgroup: memory, its cap and PSI only where they exist") {
  UsageMetrics metrics({"", 32});
  GroupUsage usage;
  auto none = metrics.render([] { return std::vector<SessionInfo>{}; }, usage, kNoMemory);
  CHECK(none.find("corral_all_sessions") == std::string::npos);
  usage.memory_current = 4096;
  usage.memory_max = 8192;
  usage.memory_pressure = Pressure{PressureLine{0, 0, 0, 2500000}, PressureLine{0, 0, 0, 500000}};
  usage.cpu_pressure = Pressure{PressureLine{0, 0, 0, 1000000}, std::nullopt};
  auto text = metrics.render([] { return std::vector<SessionInfo>{}; }, usage, kMemory);
  CHECK(has(text, "corral_all_sessions_memory_bytes 4096"));
  CHECK(has(text, "corral_all_sessions_memory_max_bytes 8192"));
  CHECK(has(text, "corral_all_sessions_pressure_seconds_total{resource=\"memory\",stall=\"some\"} 2.5"));
  CHECK(has(text, "corral_all_sessions_pressure_seconds_total{resource=\"memory\",stall=\"full\"} 0.5"));
  CHECK(has(text, "corral_all_sessions_pressure_seconds_total{resource=\"cpu\",stall=\"some\"} 1"));
  CHECK(text.find("resource=\"cpu\",stall=\"full\"") == std::string::npos);
}

TEST_CASE("the manager feeds its starts and closes into the usage metrics") {
  testing::ManagerFixture fixture;
  fixture.config.usage_metrics = {"bot", 32};
  SessionRequest request;
  request.labels["bot"] = "crawler";
  auto session = fixture.open_ok(request);
  REQUIRE(fixture.manager().close(session.id, std::chrono::milliseconds(0)).ok());
  auto text = fixture.manager().usage_metrics().render([] { return std::vector<SessionInfo>{}; }, {}, kNoMemory);
  CHECK(has(text, "corral_browser_start_seconds_count{kind=\"chrome\"} 1"));
  CHECK(has(text, "corral_sessions_running{bot=\"crawler\"} 0"));
  CHECK(text.find("corral_sessions_cpu_seconds_total{bot=\"crawler\"}") != std::string::npos);
}
