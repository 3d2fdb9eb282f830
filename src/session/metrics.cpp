#include "corral/session/metrics.hpp"

#include <sstream>

namespace corral {

void Metrics::session_opened() {
  std::lock_guard lock(m_mutex);
  ++m_opened;
}

void Metrics::open_failed() {
  std::lock_guard lock(m_mutex);
  ++m_open_failures;
}

void Metrics::admission_rejected() {
  std::lock_guard lock(m_mutex);
  ++m_rejections;
}

void Metrics::session_closed(const CloseReport& report) {
  std::lock_guard lock(m_mutex);
  ++m_closed_by_reason[close_reason_name(report.reason)];
  double seconds = report.duration_ms / 1000.0;
  for (size_t i = 0; i < kCloseBuckets.size(); ++i)
    if (seconds <= kCloseBuckets[i]) ++m_close_buckets[i];
  ++m_close_count;
  m_close_seconds += seconds;
  m_processes_killed += report.processes_killed;
  m_oom_kills += report.oom_kills.value_or(0);
  if (report.clean()) {
    m_failures_in_a_row = 0;
  } else {
    ++m_cleanup_failures, ++m_failures_in_a_row;
    m_last_problem = report.problems.empty() ? "cleanup incomplete" : report.problems.front();
  }
}

HealthVerdict Metrics::health() const {
  std::lock_guard lock(m_mutex);
  if (m_failures_in_a_row < kFailuresToDegrade) return {};
  return {true, std::to_string(m_failures_in_a_row) + " cleanups in a row left something behind; last: " +
                    m_last_problem};
}

namespace {

void counter(std::ostringstream& out, const char* name, const char* help, uint64_t value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << value << '\n';
}

void gauge(std::ostringstream& out, const char* name, const char* help, uint64_t value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n" << name << ' ' << value << '\n';
}

}  // namespace

std::string Metrics::render(const MetricsGauges& gauges) const {
  std::lock_guard lock(m_mutex);
  std::ostringstream out;
  gauge(out, "corral_sessions_active", "Sessions open now.", gauges.sessions_active);
  gauge(out, "corral_admission_queued", "Open requests waiting for room.", gauges.admission_queued);
  gauge(out, "corral_memory_budget_used_bytes", "Sum of memory_max of open sessions.", gauges.memory_budget_used);
  counter(out, "corral_sessions_opened_total", "Sessions opened.", m_opened);
  counter(out, "corral_session_open_failures_total", "Sessions whose browser did not start.", m_open_failures);
  counter(out, "corral_admission_rejections_total", "Open requests refused for want of room.", m_rejections);
  out << "# HELP corral_sessions_closed_total Sessions closed, by reason.\n"
         "# TYPE corral_sessions_closed_total counter\n";
  for (const char* reason :
       {"client", "expired", "idle", "browser-exited", "oom", "shutdown", "start-failed", "network-limit"}) {
    auto it = m_closed_by_reason.find(reason);
    out << "corral_sessions_closed_total{reason=\"" << reason << "\"} " << (it == m_closed_by_reason.end() ? 0 : it->second)
        << '\n';
  }
  out << "# HELP corral_close_duration_seconds Time from close to a verified empty cgroup.\n"
         "# TYPE corral_close_duration_seconds histogram\n";
  for (size_t i = 0; i < kCloseBuckets.size(); ++i)
    out << "corral_close_duration_seconds_bucket{le=\"" << kCloseBuckets[i] << "\"} " << m_close_buckets[i] << '\n';
  out << "corral_close_duration_seconds_bucket{le=\"+Inf\"} " << m_close_count << '\n'
      << "corral_close_duration_seconds_sum " << m_close_seconds << '\n'
      << "corral_close_duration_seconds_count " << m_close_count << '\n';
  counter(out, "corral_processes_killed_total", "Processes ended by cgroup.kill.", m_processes_killed);
  counter(out, "corral_cleanup_failures_total", "Closes that left a process, cgroup or directory.", m_cleanup_failures);
  counter(out, "corral_oom_kills_total", "OOM kills inside sessions, counted at close.", m_oom_kills);
  return out.str();
}

}  // namespace corral
