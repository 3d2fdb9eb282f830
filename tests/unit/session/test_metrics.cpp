#include <doctest/doctest.h>

#include "corral/session/metrics.hpp"

using namespace corral;

namespace {
CloseReport report(bool clean, CloseReason reason = CloseReason::client) {
  CloseReport r;
  r.reason = reason;
  r.verified_empty = r.scope_removed = r.dirs_removed = clean;
  r.processes_killed = 3;
  r.duration_ms = 120;
  if (!clean) r.problems = {"2 processes survived cgroup.kill twice"};
  return r;
}
}  // namespace

TEST_CASE("health degrades after cleanups fail in a row, and recovers") {
  Metrics metrics;
  CHECK_FALSE(metrics.health().degraded);
  metrics.session_closed(report(false));
  CHECK_FALSE(metrics.health().degraded);  // one failure may be a fluke
  metrics.session_closed(report(false));
  auto verdict = metrics.health();
  CHECK(verdict.degraded);
  CHECK(verdict.reason.find("survived cgroup.kill") != std::string::npos);
  metrics.session_closed(report(true));
  CHECK_FALSE(metrics.health().degraded);
}

TEST_CASE("render gives Prometheus text with every reason and the histogram") {
  Metrics metrics;
  metrics.session_opened();
  metrics.session_closed(report(true, CloseReason::idle));
  auto text = metrics.render({1, 0, 0});
  CHECK(text.find("corral_sessions_active 1\n") != std::string::npos);
  CHECK(text.find("corral_sessions_closed_total{reason=\"idle\"} 1\n") != std::string::npos);
  CHECK(text.find("corral_sessions_closed_total{reason=\"oom\"} 0\n") != std::string::npos);
  CHECK(text.find("corral_close_duration_seconds_bucket{le=\"0.1\"} 0\n") != std::string::npos);
  CHECK(text.find("corral_close_duration_seconds_bucket{le=\"0.25\"} 1\n") != std::string::npos);
  CHECK(text.find("corral_processes_killed_total 3\n") != std::string::npos);
}
