// CgroupScopeBackend: what every real backend does the same way once a
// scope exists, because a scope is a cgroup v2 directory whoever made it:
// reading its limits and use, cgroup.kill, and where a process sits; and
// which instance it serves, with the lock that keeps that instance's place
// to one corrald. systemd and cgroupfs differ only in making and removing
// scopes.
#pragma once

#include "corral/backend/scope_backend.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

class CgroupScopeBackend : public ScopeBackend {
 public:
  const InstanceNaming& naming() const override { return m_naming; }
  Controllers enforced(const Scope& scope) const override;
  CgroupStats stats(const Scope& scope) const override;
  KillOutcome kill_all(const Scope& scope, std::chrono::milliseconds wait) override;
  Result<void> check_contains(const Scope& scope, pid_t pid) const override;

 protected:
  explicit CgroupScopeBackend(InstanceNaming naming) : m_naming(std::move(naming)) {}
  /// Lock `root`, this instance's sessions root, for as long as the backend
  /// lives (flock on its cgroup directory). A second corrald of the same
  /// instance on the same manager or cgroup root would take this one's
  /// sessions for leftovers of its own and reap them; it stops at start
  /// instead, with EBUSY saying why.
  Result<void> claim_sessions_root(const std::filesystem::path& root);

 private:
  InstanceNaming m_naming;
  UniqueFd m_root_lock;
};

}  // namespace corral
