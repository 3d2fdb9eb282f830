#include "corral/api/usage_json.hpp"

#include "corral/api/session_json.hpp"

#include "corral/session/metrics_page.hpp"
#include "corral/util/json_optional.hpp"

namespace corral {
using nlohmann::json;

namespace {

json pressure_line_json(const std::optional<PressureLine>& line) {
  if (!line) return nullptr;
  return {{"avg10", line->avg10}, {"avg60", line->avg60}, {"avg300", line->avg300}, {"total_usec", line->total_usec}};
}

}  // namespace

json pressure_json(const std::optional<Pressure>& pressure) {
  if (!pressure) return nullptr;
  return {{"some", pressure_line_json(pressure->some)}, {"full", pressure_line_json(pressure->full)}};
}

json group_usage_json(const GroupUsage& usage) {
  return {{"memory_current", usage.memory_current},
          {"memory_max", usage.memory_max},
          {"cpu_usage_usec", usage.cpu_usage_usec},
          {"memory_pressure", pressure_json(usage.memory_pressure)},
          {"cpu_pressure", pressure_json(usage.cpu_pressure)}};
}

json usage_json(const SessionManager& sessions) {
  const auto& limits = sessions.config().admission;
  auto gauges = sessions.gauges();
  auto controllers = sessions.backend().controllers();
  json all_sessions = group_usage_json(all_sessions_usage(sessions));
  all_sessions["cgroup"] = sessions.backend().sessions_root().string();
  // The daemon's clock, so that ages and expiries need no synchronised client.
  return {{"time", format_timestamp(std::chrono::system_clock::now())},
          {"open_sessions", gauges.sessions_active},
          {"admission",
           {{"max_sessions", limits.max_sessions ? json(limits.max_sessions) : json(nullptr)},
            {"memory_budget", limits.memory_budget},
            {"memory_budget_used", gauges.memory_budget_used},
            {"queued", gauges.admission_queued}}},
          {"all_sessions", all_sessions},
          {"controllers", {{"memory", controllers.memory}, {"cpu", controllers.cpu}, {"pids", controllers.tasks}}}};
}

}  // namespace corral
