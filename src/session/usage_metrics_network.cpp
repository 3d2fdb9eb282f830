// UsageMetrics' network families: the bytes sessions' pages moved through
// their way out, by the metrics label. Counters in the manner of the CPU
// counter: ended sessions' totals plus the running ones' counts, each
// session's highest count remembered until its close is reported, so that
// a session closing between two scrapes never makes a counter go down.
#include <algorithm>

#include "corral/session/usage_metrics.hpp"

namespace corral {
namespace {

constexpr double kMB = 1000 * 1000;

prometheus::Histogram network_histogram() {
  return prometheus::Histogram({1 * kMB, 10 * kMB, 100 * kMB, 1000 * kMB, 10000 * kMB, 100000 * kMB});
}

}  // namespace

void UsageMetrics::network_closed(const std::string& label_value, const CloseReport& report) {
  NetworkBytes seen;
  if (auto last = m_seen_network.extract(report.id)) seen = last.mapped().bytes;
  if (!report.network_bytes_in && !seen.in && !seen.out) return;  // no way out: nothing to count
  NetworkBytes total{std::max(report.network_bytes_in.value_or(0), seen.in),
                     std::max(report.network_bytes_out.value_or(0), seen.out)};
  auto& closed = m_closed_network[label_value];
  closed.in += total.in;
  closed.out += total.out;
  m_network_at_close.try_emplace(label_value, network_histogram())
      .first->second.observe(static_cast<double>(total.in + total.out));
}

void UsageMetrics::write_network(std::ostream& out, const std::vector<SessionInfo>& sessions) const {
  if (!m_network) return;
  for (const auto& session : sessions) {
    if (!session.egress) continue;
    auto& seen = m_seen_network[session.id];
    seen.label_value = m_label.value_for(session.request.labels);
    seen.bytes.in = std::max(seen.bytes.in, session.egress->bytes_in);
    seen.bytes.out = std::max(seen.bytes.out, session.egress->bytes_out);
  }
  std::map<std::string, NetworkBytes> sums = m_closed_network;
  for (const auto& [id, seen] : m_seen_network) {
    sums[seen.label_value].in += seen.bytes.in;
    sums[seen.label_value].out += seen.bytes.out;
  }
  for (auto [name, help, inbound] :
       {std::tuple{"corral_sessions_network_in_bytes_total",
                   "Bytes sessions' pages received through their way out, running and ended, by the metrics label.",
                   true},
        std::tuple{"corral_sessions_network_out_bytes_total",
                   "Bytes sessions' pages sent through their way out, running and ended, by the metrics label.",
                   false}}) {
    prometheus::family(out, name, "counter", help);
    for (const auto& value : m_label.values_seen()) {
      auto found = sums.find(value);
      uint64_t bytes = found == sums.end() ? 0 : inbound ? found->second.in : found->second.out;
      prometheus::sample(out, name, label_set(value), static_cast<double>(bytes));
    }
  }
  prometheus::family(out, "corral_session_network_bytes", "histogram",
                     "Bytes in and out of each session's pages through its way out, at its close, by the metrics "
                     "label.");
  for (const auto& value : m_label.values_seen()) {
    auto found = m_network_at_close.find(value);
    (found == m_network_at_close.end() ? network_histogram() : found->second)
        .write(out, "corral_session_network_bytes", label_set(value));
  }
}

}  // namespace corral
