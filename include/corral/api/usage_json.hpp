// GET /v1/usage: how full the daemon is, as `corralctl top` shows in its
// totals: open sessions against --max-sessions, memory_max against
// --memory-budget, and what the cgroup that holds every session uses.
#pragma once

#include <nlohmann/json.hpp>

#include "corral/api/daemon_facts.hpp"
#include "corral/cgroup/group_usage.hpp"
#include "corral/session/manager.hpp"

namespace corral {

nlohmann::json pressure_json(const std::optional<Pressure>& pressure);
nlohmann::json group_usage_json(const GroupUsage& usage);
/// {"open_sessions","admission":{...},"all_sessions":{...},"controllers":{...}}
nlohmann::json usage_json(const SessionManager& sessions, const DaemonFacts& facts);

}  // namespace corral
