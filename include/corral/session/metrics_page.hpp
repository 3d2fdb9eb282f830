// GET /metrics as a whole: the daemon's counters (Metrics), its health and
// admission limits as gauges, and what the sessions use (UsageMetrics).
#pragma once

#include <string>

#include "corral/cgroup/group_usage.hpp"
#include "corral/session/manager.hpp"

namespace corral {

/// The Prometheus text of every corral family.
std::string render_metrics_page(const SessionManager& sessions);

/// The cgroup that holds every session (corral.slice, or the cgroupfs
/// root), read now.
GroupUsage all_sessions_usage(const SessionManager& sessions);

}  // namespace corral
