// The kernel-guaranteed end of a session: graceful SIGTERM first, then
// cgroup.kill, wait for "populated 0" by event, verify cgroup.procs is empty,
// remove the scope and the session's directories. Each step is reported.
#pragma once

#include <chrono>

#include "corral/backend/scope_backend.hpp"
#include "corral/session/session.hpp"
#include "corral/launch/session_dirs.hpp"

namespace corral {

struct CleanupTarget {
  std::string id;
  Scope scope;
  int pidfd = -1;  ///< the browser's main process (borrowed)
  SessionDirs dirs;
};

struct CleanupTimeouts {
  std::chrono::milliseconds grace{2000};      ///< SIGTERM → cgroup.kill; 0 kills at once
  std::chrono::milliseconds kill_wait{5000};  ///< per cgroup.kill, for populated 0
};

CloseReport clean_up_session(ScopeBackend& backend, const CleanupTarget& target, CloseReason reason,
                             CleanupTimeouts timeouts);

/// Kill and remove a scope an earlier run of the daemon left behind.
Result<void> remove_leftover_scope(ScopeBackend& backend, const Scope& scope, std::chrono::milliseconds kill_wait);

}  // namespace corral
