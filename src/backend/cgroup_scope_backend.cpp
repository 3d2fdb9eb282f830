#include "corral/backend/cgroup_scope_backend.hpp"

#include "corral/cgroup/paths.hpp"
#include "corral/util/file_lock.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

Result<void> CgroupScopeBackend::claim_sessions_root(const fs::path& root) {
  auto lock = lock_directory(root);
  if (!lock && lock.error().code == EBUSY)
    return Error::make(EBUSY, "another corrald runs instance '" + m_naming.instance() + "' in " + root.string() +
                                  ": give each corrald on a host its own --instance");
  if (!lock) return lock.error();
  m_root_lock = std::move(*lock);
  return success();
}

Controllers CgroupScopeBackend::enforced(const Scope& scope) const { return Cgroup(scope.cgroup).enforced(); }

CgroupStats CgroupScopeBackend::stats(const Scope& scope) const { return Cgroup(scope.cgroup).stats(); }

// cgroup.kill, then wait for populated 0. A second kill covers processes
// forked while the first was delivered on kernels before the kill_seq fix;
// what survives both is stuck in the kernel (D state) and is reported.
KillOutcome CgroupScopeBackend::kill_all(const Scope& scope, milliseconds wait) {
  Cgroup cgroup(scope.cgroup);
  KillOutcome outcome;
  if (auto before = cgroup.processes()) outcome.processes_killed = before->size();
  auto started = steady_clock::now();
  for (int round = 0; round < 2; ++round) {
    if (auto killed = cgroup.kill(); !killed) outcome.problems.push_back(killed.error().message);
    auto empty = cgroup.wait_until_empty(wait);
    if (!empty) outcome.problems.push_back(empty.error().message);
    if (empty && *empty) break;
  }
  auto killed = steady_clock::now();
  outcome.kill_ms = duration<double, std::milli>(killed - started).count();
  auto populated = cgroup.populated();
  auto remaining = cgroup.processes();
  outcome.verify_ms = duration<double, std::milli>(steady_clock::now() - killed).count();
  outcome.verified_empty = populated && !*populated && remaining && remaining->empty();
  // Say why the check failed, not only that it did.
  if (!populated) outcome.problems.push_back(populated.error().message);
  if (!remaining) outcome.problems.push_back(remaining.error().message);
  if (populated && *populated && remaining && remaining->empty())
    outcome.problems.push_back("cgroup.events says populated with no process in cgroup.procs");
  if (remaining && !remaining->empty()) {
    outcome.stuck_pids = *remaining;
    outcome.problems.push_back(std::to_string(remaining->size()) + " processes survived cgroup.kill twice");
  }
  return outcome;
}

// A browser may make child cgroups in a delegated scope, so "below" counts.
Result<void> CgroupScopeBackend::check_contains(const Scope& scope, pid_t pid) const {
  auto mount = cgroup2_mount();
  if (!mount) return mount.error();
  auto relative = cgroup_of_process(pid);
  if (!relative) return relative.error();
  fs::path where = *mount / relative->substr(1);
  auto [scope_end, where_end] = std::mismatch(scope.cgroup.begin(), scope.cgroup.end(), where.begin(), where.end());
  if (scope_end != scope.cgroup.end())
    return Error::make(ESRCH, "pid " + std::to_string(pid) + " is in " + where.string());
  return success();
}

}  // namespace corral
