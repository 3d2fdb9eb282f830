// Metrics: counters of what the daemon did, rendered in Prometheus' text
// format for GET /metrics, and the health verdict drawn from them (degraded
// when cleanups fail repeatedly, which is what an operator alerts on).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "corral/session/session.hpp"

namespace corral {

/// Gauges the metrics page shows next to the counters.
struct MetricsGauges {
  size_t sessions_active = 0;
  size_t admission_queued = 0;
  uint64_t memory_budget_used = 0;
};

struct HealthVerdict {
  bool degraded = false;
  std::string reason;
};

class Metrics {
 public:
  void session_opened();
  void open_failed();
  void admission_rejected();
  void session_closed(const CloseReport& report);

  std::string render(const MetricsGauges& gauges) const;
  /// Degraded after kFailuresToDegrade cleanups in a row left something
  /// behind; a clean one restores "ok".
  HealthVerdict health() const;

  static constexpr int kFailuresToDegrade = 2;

 private:
  static constexpr std::array<double, 8> kCloseBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  mutable std::mutex m_mutex;
  uint64_t m_opened = 0, m_open_failures = 0, m_rejections = 0;
  std::map<std::string, uint64_t> m_closed_by_reason;
  std::array<uint64_t, kCloseBuckets.size()> m_close_buckets{};
  uint64_t m_close_count = 0;
  double m_close_seconds = 0;
  uint64_t m_processes_killed = 0, m_cleanup_failures = 0, m_oom_kills = 0;
  int m_failures_in_a_row = 0;
  std::string m_last_problem;
};

}  // namespace corral
