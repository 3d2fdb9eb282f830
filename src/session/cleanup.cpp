#include "corral/session/cleanup.hpp"

namespace corral {
namespace {
using namespace std::chrono;

// Milliseconds since the last lap, for the report's phases.
class Stopwatch {
 public:
  double lap() {
    auto now = steady_clock::now();
    double elapsed = duration<double, std::milli>(now - m_last).count();
    m_last = now;
    return elapsed;
  }

 private:
  steady_clock::time_point m_last = steady_clock::now();
};

void kill_scope(ScopeBackend& backend, const Scope& scope, milliseconds kill_wait, CloseReport& report,
                Stopwatch& clock) {
  auto stats = backend.stats(scope);  // before the kill: systemd may remove an emptied scope at once
  report.memory_peak = stats.memory_peak;
  report.oom_kills = stats.oom_kills;
  report.cpu_usage_usec = stats.cpu_usage_usec;
  report.phases.stats = clock.lap();
  auto killed = backend.kill_all(scope, kill_wait);
  clock.lap();
  report.phases.kill = killed.kill_ms;
  report.phases.verify = killed.verify_ms;
  report.processes_killed = killed.processes_killed;
  report.verified_empty = killed.verified_empty;
  report.stuck_pids = killed.stuck_pids;
  report.problems.insert(report.problems.end(), killed.problems.begin(), killed.problems.end());
  if (!report.verified_empty) {
    // Keep the scope of stuck processes: removing it would hide them.
    report.problems.push_back("scope kept for inspection: " + scope.cgroup.string());
    return;
  }
  auto destroyed = backend.destroy(scope);
  report.scope_removed = destroyed.ok();
  if (!destroyed) report.problems.push_back(destroyed.error().message);
  report.phases.scope = clock.lap();
}

// A browser without a scope never left its gate: it is one process, ours.
void kill_gated_child(BrowserProcess& browser, CloseReport& report, Stopwatch& clock) {
  report.processes_killed = 1;
  report.verified_empty = browser.kill();
  report.scope_removed = true;  // there is none
  if (!report.verified_empty)
    report.problems.push_back("pid " + std::to_string(browser.pid()) + " did not end on SIGKILL");
  report.phases.kill = clock.lap();
}

}  // namespace

CloseReport clean_up_session(ScopeBackend& backend, BrowserProcess& browser, const std::optional<Scope>& scope,
                             const std::string& id, CloseReason reason, CleanupTimeouts timeouts) {
  auto started = steady_clock::now();
  Stopwatch clock;
  CloseReport report;
  report.id = id;
  report.reason = reason;
  if (scope) {
    report.graceful = browser.ask_to_exit(timeouts.grace);
    report.phases.grace = clock.lap();
    kill_scope(backend, *scope, timeouts.kill_wait, report, clock);
  } else {
    kill_gated_child(browser, report, clock);
  }
  auto removed = browser.remove_files();
  report.dirs_removed = removed.ok();
  if (!removed) report.problems.push_back(removed.error().message);
  report.phases.files = clock.lap();
  // Once its files are gone its way out is closed: these are the last counts.
  if (auto egress = browser.egress()) {
    report.network_bytes_in = egress->bytes_in;
    report.network_bytes_out = egress->bytes_out;
  }
  report.duration_ms = duration_cast<milliseconds>(steady_clock::now() - started).count();
  return report;
}

Result<void> remove_leftover_scope(ScopeBackend& backend, const Scope& scope, milliseconds kill_wait) {
  auto killed = backend.kill_all(scope, kill_wait);
  if (!killed.verified_empty)
    return Error::make(EBUSY, "leftover " + scope.cgroup.string() + " does not empty" +
                                  (killed.problems.empty() ? "" : ": " + killed.problems.front()));
  return backend.destroy(scope);
}

}  // namespace corral
