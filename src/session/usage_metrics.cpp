#include "corral/session/usage_metrics.hpp"

#include <algorithm>
#include <sstream>

namespace corral {
namespace {
using prometheus::Histogram;

constexpr double kMiB = 1024 * 1024;

Histogram memory_histogram() {
  return Histogram({32 * kMiB, 64 * kMiB, 128 * kMiB, 256 * kMiB, 512 * kMiB, 1024 * kMiB, 2048 * kMiB,
                    4096 * kMiB, 8192 * kMiB});
}
Histogram processes_histogram() { return Histogram({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}); }
Histogram cpu_seconds_histogram() { return Histogram({0.5, 1, 5, 15, 60, 300, 900, 3600}); }
Histogram start_seconds_histogram() { return Histogram({0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60}); }

void write_pressure(std::ostream& out, const char* resource, const Pressure& pressure) {
  for (auto [stall, line] : {std::pair{"some", &pressure.some}, std::pair{"full", &pressure.full}})
    if (*line)
      prometheus::sample(out, "corral_all_sessions_pressure_seconds_total", {{"resource", resource}, {"stall", stall}},
                         (*line)->total_usec / 1e6);
}

void write_all_sessions(std::ostream& out, const GroupUsage& usage) {
  if (usage.memory_current) {
    prometheus::family(out, "corral_all_sessions_memory_bytes", "gauge",
                       "memory.current of the cgroup that holds every session.");
    prometheus::sample(out, "corral_all_sessions_memory_bytes", {}, static_cast<double>(*usage.memory_current));
  }
  if (usage.memory_max) {
    prometheus::family(out, "corral_all_sessions_memory_max_bytes", "gauge",
                       "memory.max of the cgroup that holds every session (absent when it has none).");
    prometheus::sample(out, "corral_all_sessions_memory_max_bytes", {}, static_cast<double>(*usage.memory_max));
  }
  if (!usage.memory_pressure && !usage.cpu_pressure) return;
  prometheus::family(out, "corral_all_sessions_pressure_seconds_total", "counter",
                     "Time the sessions' tasks stalled for memory or CPU (PSI of their parent cgroup): "
                     "some = at least one task, full = all of them.");
  if (usage.memory_pressure) write_pressure(out, "memory", *usage.memory_pressure);
  if (usage.cpu_pressure) write_pressure(out, "cpu", *usage.cpu_pressure);
}

}  // namespace

UsageMetrics::UsageMetrics(const UsageMetricsConfig& config)
    : m_label(config.label_key, config.label_values), m_network(config.network) {}

void UsageMetrics::browser_started(BrowserKind kind, const std::map<std::string, std::string>& labels,
                                   std::chrono::duration<double> took) {
  std::lock_guard lock(m_mutex);
  m_label.value_for(labels);
  m_start_seconds.try_emplace(kind, start_seconds_histogram()).first->second.observe(took.count());
}

void UsageMetrics::session_closed(const std::map<std::string, std::string>& labels, const CloseReport& report) {
  std::lock_guard lock(m_mutex);
  auto value = m_label.value_for(labels);
  uint64_t last_seen = 0;
  if (auto seen = m_seen_cpu.extract(report.id)) last_seen = seen.mapped().usec;
  // The final reading comes after every live one; max() still guards a
  // close whose reading failed.
  m_closed_cpu_usec[value] += std::max(report.cpu_usage_usec.value_or(0), last_seen);
  if (report.memory_peak)
    m_memory_peak.try_emplace(value, memory_histogram()).first->second.observe(static_cast<double>(*report.memory_peak));
  network_closed(value, report);
}

prometheus::LabelSet UsageMetrics::label_set(const std::string& value) const {
  if (!m_label.enabled()) return {};
  return {{m_label.key(), value}};
}

UsageMetrics::ByLabel UsageMetrics::sum_by_label(const std::vector<SessionInfo>& sessions) const {
  ByLabel live;
  for (const auto& session : sessions) {
    if (!session.stats) continue;
    auto value = m_label.value_for(session.request.labels);
    auto& totals = live[value];
    ++totals.sessions;
    totals.memory_bytes += session.stats->memory_current.value_or(0);
    totals.processes += session.stats->processes;
    auto& seen = m_seen_cpu[session.id];
    seen.label_value = value;
    seen.usec = std::max(seen.usec, session.stats->cpu_usage_usec.value_or(0));
  }
  // Sessions closing now are not in `sessions`, but their CPU still counts.
  for (const auto& [id, seen] : m_seen_cpu) live[seen.label_value].cpu_usec += seen.usec;
  return live;
}

// Every label value ever seen keeps its series (at 0 when it has no
// session), so a graph shows a bot going idle instead of a gap.
void UsageMetrics::write_live_sums(std::ostream& out, const ByLabel& live, const Controllers& controllers) const {
  auto each_value = [&](const char* name, auto figure) {
    for (const auto& value : m_label.values_seen()) {
      auto found = live.find(value);
      prometheus::sample(out, name, label_set(value), found == live.end() ? 0.0 : figure(found->second));
    }
  };
  prometheus::family(out, "corral_sessions_running", "gauge", "Running sessions, by the metrics label.");
  each_value("corral_sessions_running", [](const LiveTotals& t) { return double(t.sessions); });
  if (controllers.memory) {
    prometheus::family(out, "corral_sessions_memory_bytes", "gauge",
                       "memory.current summed over running sessions, by the metrics label.");
    each_value("corral_sessions_memory_bytes", [](const LiveTotals& t) { return double(t.memory_bytes); });
  }
  prometheus::family(out, "corral_sessions_processes", "gauge", "Processes of running sessions, by the metrics label.");
  each_value("corral_sessions_processes", [](const LiveTotals& t) { return double(t.processes); });
  prometheus::family(out, "corral_sessions_cpu_seconds_total", "counter",
                     "CPU time used by sessions, running and ended, by the metrics label.");
  for (const auto& value : m_label.values_seen()) {
    auto found = live.find(value);
    auto closed = m_closed_cpu_usec.find(value);
    uint64_t usec = (found == live.end() ? 0 : found->second.cpu_usec) +
                    (closed == m_closed_cpu_usec.end() ? 0 : closed->second);
    prometheus::sample(out, "corral_sessions_cpu_seconds_total", label_set(value), usec / 1e6);
  }
}

void UsageMetrics::write_distributions(std::ostream& out, const std::vector<SessionInfo>& sessions,
                                       const Controllers& controllers) const {
  auto memory = memory_histogram(), processes = processes_histogram(), cpu = cpu_seconds_histogram();
  for (const auto& session : sessions) {
    if (!session.stats) continue;
    if (session.stats->memory_current) memory.observe(static_cast<double>(*session.stats->memory_current));
    processes.observe(static_cast<double>(session.stats->processes));
    if (session.stats->cpu_usage_usec) cpu.observe(*session.stats->cpu_usage_usec / 1e6);
  }
  if (controllers.memory) {
    prometheus::family(out, "corral_session_memory_bytes", "histogram",
                       "memory.current of each running session, now (a snapshot: no rate()).");
    memory.write(out, "corral_session_memory_bytes", {});
  }
  prometheus::family(out, "corral_session_processes", "histogram",
                     "Processes of each running session, now (a snapshot: no rate()).");
  processes.write(out, "corral_session_processes", {});
  prometheus::family(out, "corral_session_cpu_seconds", "histogram",
                     "CPU time each running session has used so far (a snapshot: no rate()).");
  cpu.write(out, "corral_session_cpu_seconds", {});
}

void UsageMetrics::write_event_histograms(std::ostream& out, const Controllers& controllers) const {
  if (controllers.memory) {
    prometheus::family(out, "corral_session_memory_peak_bytes", "histogram",
                       "memory.peak of each session at its close, by the metrics label.");
    for (const auto& value : m_label.values_seen()) {
      auto found = m_memory_peak.find(value);
      (found == m_memory_peak.end() ? memory_histogram() : found->second)
          .write(out, "corral_session_memory_peak_bytes", label_set(value));
    }
  }
  prometheus::family(out, "corral_browser_start_seconds", "histogram",
                     "Time from admission until the browser answered, for sessions that started.");
  for (BrowserKind kind : {BrowserKind::chrome, BrowserKind::chromedriver}) {
    auto found = m_start_seconds.find(kind);
    (found == m_start_seconds.end() ? start_seconds_histogram() : found->second)
        .write(out, "corral_browser_start_seconds", {{"kind", browser_kind_name(kind)}});
  }
}

std::string UsageMetrics::render(const std::function<std::vector<SessionInfo>()>& running,
                                 const GroupUsage& all_sessions, const Controllers& controllers) const {
  std::lock_guard lock(m_mutex);
  auto sessions = running();
  auto live = sum_by_label(sessions);
  std::ostringstream out;
  write_live_sums(out, live, controllers);
  write_distributions(out, sessions, controllers);
  write_event_histograms(out, controllers);
  write_network(out, sessions);
  write_all_sessions(out, all_sessions);
  return out.str();
}

}  // namespace corral
