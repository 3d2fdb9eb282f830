// UsageMetrics: what the sessions use, for GET /metrics. Live figures (memory,
// CPU, processes of the running sessions, summed per value of the operator's
// metrics label and as distributions) are read at each scrape; peak memory
// at close and browser start times are histograms fed as sessions close and
// start; the sessions' parent cgroup adds the all-sessions memory and PSI;
// the sessions' bytes in and out through their way out are counters by the
// label, and a histogram of each session's total at its close.
// Nothing is rendered where the host has no such value (no memory
// controller, no PSI): a missing series, never a made-up 0.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "corral/cgroup/group_usage.hpp"
#include "corral/cgroup/limits.hpp"
#include "corral/session/metric_label.hpp"
#include "corral/session/prometheus_text.hpp"
#include "corral/session/session.hpp"

namespace corral {

struct UsageMetricsConfig {
  std::string label_key;    ///< --metrics-label: the session label that splits series by bot; "" for none
  size_t label_values = 32; ///< distinct values of it kept before "other"
  bool network = false;     ///< sessions' bytes are counted (their way out): render the network families
};

class UsageMetrics {
 public:
  explicit UsageMetrics(const UsageMetricsConfig& config);

  /// A browser answered `took` after its session (with these client labels)
  /// was admitted. Its label value is kept from here on if there is room:
  /// values are kept in the order sessions open.
  void browser_started(BrowserKind kind, const std::map<std::string, std::string>& labels,
                       std::chrono::duration<double> took);
  /// A session (with these client labels) was cleaned up.
  void session_closed(const std::map<std::string, std::string>& labels, const CloseReport& report);

  /// The Prometheus text of every usage family. `running` must return the
  /// running sessions with their stats; it is called under this object's
  /// lock, so that a session that closes meanwhile counts either as running
  /// or as closed in the CPU counter, never as both. A session that is
  /// closing (not in `running`, its close not reported yet) keeps the CPU
  /// last seen of it in the counter, which so never goes down.
  std::string render(const std::function<std::vector<SessionInfo>()>& running, const GroupUsage& all_sessions,
                     const Controllers& controllers) const;

 private:
  struct LiveTotals {
    size_t sessions = 0;
    uint64_t memory_bytes = 0, processes = 0, cpu_usec = 0;
  };
  using ByLabel = std::map<std::string, LiveTotals>;
  struct SeenCpu {
    std::string label_value;
    uint64_t usec = 0;
  };

  prometheus::LabelSet label_set(const std::string& value) const;
  ByLabel sum_by_label(const std::vector<SessionInfo>& sessions) const;
  void write_live_sums(std::ostream& out, const ByLabel& live, const Controllers& controllers) const;
  void write_distributions(std::ostream& out, const std::vector<SessionInfo>& sessions,
                           const Controllers& controllers) const;
  void write_event_histograms(std::ostream& out, const Controllers& controllers) const;

  // The sessions' bytes through their way out (usage_metrics_network.cpp).
  struct NetworkBytes {
    uint64_t in = 0, out = 0;
  };
  struct SeenNetwork {
    std::string label_value;
    NetworkBytes bytes;
  };
  void network_closed(const std::string& label_value, const CloseReport& report);
  void write_network(std::ostream& out, const std::vector<SessionInfo>& sessions) const;

  mutable std::mutex m_mutex;  ///< guards everything below
  mutable MetricLabel m_label;
  std::map<std::string, uint64_t> m_closed_cpu_usec;  ///< by label value: CPU of sessions that have ended
  mutable std::map<std::string, SeenCpu> m_seen_cpu;  ///< by session id: CPU of sessions not yet ended
  std::map<std::string, prometheus::Histogram> m_memory_peak;  ///< by label value
  std::map<BrowserKind, prometheus::Histogram> m_start_seconds;
  bool m_network;
  std::map<std::string, NetworkBytes> m_closed_network;    ///< by label value: bytes of sessions that have ended
  mutable std::map<std::string, SeenNetwork> m_seen_network;  ///< by session id: bytes of sessions not yet ended
  std::map<std::string, prometheus::Histogram> m_network_at_close;  ///< by label value: in + out, at close
};

}  // namespace corral
