#include "corral/session/cleanup.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace corral {
namespace {
using namespace std::chrono;

// SIGTERM to the browser's main process; true if it ended within `grace`.
// Chrome on SIGTERM shuts down cleanly (its profile is flushed); the
// helpers that outlive it are what cgroup.kill is for.
bool ask_to_exit(int pidfd, milliseconds grace) {
  if (grace.count() <= 0 || pidfd < 0) return false;
  if (::syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0) < 0) return errno == ESRCH;
  struct pollfd pfd = {pidfd, POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(grace.count())) > 0;
}

// cgroup.kill, then wait for populated 0. A second kill covers processes
// forked while the first was delivered on kernels before the kill_seq fix;
// what survives both is stuck in the kernel (D state) and is reported.
void kill_everything(const Cgroup& cgroup, milliseconds kill_wait, CloseReport& report) {
  if (auto before = cgroup.processes()) report.processes_killed = before->size();
  for (int round = 0; round < 2; ++round) {
    if (auto killed = cgroup.kill(); !killed) report.problems.push_back(killed.error().message);
    auto empty = cgroup.wait_until_empty(kill_wait);
    if (!empty) report.problems.push_back(empty.error().message);
    if (empty && *empty) break;
  }
  auto populated = cgroup.populated();
  auto remaining = cgroup.processes();
  report.verified_empty = populated && !*populated && remaining && remaining->empty();
  if (remaining && !remaining->empty()) {
    report.stuck_pids = *remaining;
    report.problems.push_back(std::to_string(remaining->size()) + " processes survived cgroup.kill twice");
  }
}

}  // namespace

CloseReport clean_up_session(ScopeBackend& backend, const CleanupTarget& target, CloseReason reason,
                             CleanupTimeouts timeouts) {
  auto started = steady_clock::now();
  CloseReport report;
  report.id = target.id;
  report.reason = reason;
  report.graceful = ask_to_exit(target.pidfd, timeouts.grace);

  Cgroup cgroup(target.scope.cgroup);
  auto stats = cgroup.stats();  // before the kill: systemd may remove an emptied scope at once
  report.memory_peak = stats.memory_peak;
  report.oom_kills = stats.oom_kills;
  kill_everything(cgroup, timeouts.kill_wait, report);
  if (report.verified_empty) {
    auto destroyed = backend.destroy(target.scope);
    report.scope_removed = destroyed.ok() && !cgroup.exists();
    if (!destroyed) report.problems.push_back(destroyed.error().message);
    else if (!report.scope_removed) report.problems.push_back("cgroup " + cgroup.path().string() + " still exists");
  } else {
    // Keep the scope of stuck processes: removing it would hide them.
    report.problems.push_back("scope kept for inspection: " + cgroup.path().string());
  }
  auto removed = target.dirs.remove();
  report.dirs_removed = removed.ok();
  if (!removed) report.problems.push_back(removed.error().message);
  report.duration_ms = duration_cast<milliseconds>(steady_clock::now() - started).count();
  return report;
}

Result<void> remove_leftover_scope(ScopeBackend& backend, const Scope& scope, milliseconds kill_wait) {
  Cgroup cgroup(scope.cgroup);
  CORRAL_TRY(cgroup.kill());
  auto empty = cgroup.wait_until_empty(kill_wait);
  if (!empty) return empty.error();
  if (!*empty) return Error::make(EBUSY, "leftover " + cgroup.path().string() + " does not empty");
  return backend.destroy(scope);
}

}  // namespace corral
