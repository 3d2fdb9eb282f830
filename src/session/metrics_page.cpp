#include "corral/session/metrics_page.hpp"

#include <sstream>

#include "corral/session/prometheus_text.hpp"

namespace corral {
namespace {

// What an alert on "degraded" and a "how full" panel need as numbers.
std::string health_and_limits(const SessionManager& sessions) {
  std::ostringstream out;
  prometheus::family(out, "corral_health_degraded", "gauge",
                     "1 while GET /v1/health says degraded (cleanups failed in a row), else 0.");
  prometheus::sample(out, "corral_health_degraded", {}, sessions.metrics().health().degraded ? 1 : 0);
  const auto& admission = sessions.config().admission;
  if (admission.max_sessions) {
    prometheus::family(out, "corral_admission_max_sessions", "gauge", "--max-sessions: sessions open at once.");
    prometheus::sample(out, "corral_admission_max_sessions", {}, static_cast<double>(admission.max_sessions));
  }
  if (admission.memory_budget) {
    prometheus::family(out, "corral_admission_memory_budget_bytes", "gauge",
                       "--memory-budget: sum of memory_max over open sessions.");
    prometheus::sample(out, "corral_admission_memory_budget_bytes", {}, static_cast<double>(*admission.memory_budget));
  }
  return out.str();
}

std::vector<SessionInfo> running_sessions(const SessionManager& sessions) {
  auto listed = sessions.list();
  std::erase_if(listed, [](const SessionInfo& info) { return info.state != SessionState::running || !info.stats; });
  return listed;
}

}  // namespace

GroupUsage all_sessions_usage(const SessionManager& sessions) {
  return read_group_usage(sessions.backend().sessions_root());
}

std::string render_metrics_page(const SessionManager& sessions) {
  return sessions.metrics().render(sessions.gauges()) + health_and_limits(sessions) + sessions.render_warm_metrics() +
         sessions.usage_metrics().render([&] { return running_sessions(sessions); }, all_sessions_usage(sessions),
                                         sessions.backend().controllers());
}

}  // namespace corral
