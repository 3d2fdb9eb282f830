// CgroupScopeBackend: what every real backend does the same way once a
// scope exists, because a scope is a cgroup v2 directory whoever made it:
// reading its limits and use, cgroup.kill, and where a process sits.
// systemd and cgroupfs differ only in making and removing scopes.
#pragma once

#include "corral/backend/scope_backend.hpp"

namespace corral {

class CgroupScopeBackend : public ScopeBackend {
 public:
  Controllers enforced(const Scope& scope) const override;
  CgroupStats stats(const Scope& scope) const override;
  KillOutcome kill_all(const Scope& scope, std::chrono::milliseconds wait) override;
  Result<void> check_contains(const Scope& scope, pid_t pid) const override;
};

}  // namespace corral
