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

namespace {

/// What a session gets when it asks for nothing: a router's settings (a
/// Grid node's session timeout, its slots) are derived from these.
json session_defaults_json(const SessionManagerConfig& config) {
  return {{"memory_max", config.default_limits.memory_max},
          {"idle_timeout_ms", config.default_idle_timeout.count()},
          {"ttl_ms", config.default_ttl.count()}};
}

/// The warm pool per kind kept warm; {} without --warm.
json warm_json(const SessionManager& sessions) {
  json warm = json::object();
  for (const auto& status : sessions.warm_status())
    warm[browser_kind_name(status.kind)] = {{"target", status.target},     {"ready", status.ready},
                                            {"hits", status.hits},         {"misses", status.misses},
                                            {"discarded", status.discarded}, {"last_refill_ms", status.last_refill_ms},
                                            {"frozen", status.frozen}};
  return warm;
}

}  // namespace

json usage_json(const SessionManager& sessions, const DaemonFacts& facts) {
  const auto& config = sessions.config();
  const auto& limits = config.admission;
  auto pool = sessions.uid_pool();
  auto always_admitted =
      sessions_always_admitted(limits, config.default_limits.memory_max, pool.separate ? pool.size : 0);
  auto gauges = sessions.gauges();
  const auto& controllers = facts.controllers;
  json all_sessions = group_usage_json(all_sessions_usage(sessions));
  all_sessions["cgroup"] = facts.sessions_root.string();
  // The daemon's clock, so that ages and expiries need no synchronised client.
  return {{"time", format_timestamp(std::chrono::system_clock::now())},
          {"open_sessions", gauges.sessions_active},
          {"admission",
           {{"max_sessions", limits.max_sessions ? json(limits.max_sessions) : json(nullptr)},
            {"memory_budget", limits.memory_budget},
            {"memory_budget_used", gauges.memory_budget_used},
            {"queued", gauges.admission_queued},
            {"always_admitted", always_admitted}}},
          {"session_defaults", session_defaults_json(config)},
          {"warm", warm_json(sessions)},
          {"all_sessions", all_sessions},
          {"controllers", {{"memory", controllers.memory}, {"cpu", controllers.cpu}, {"pids", controllers.tasks}}}};
}

}  // namespace corral
