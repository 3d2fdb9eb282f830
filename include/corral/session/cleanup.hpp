// The kernel-guaranteed end of a session: graceful SIGTERM first, then
// cgroup.kill, wait for "populated 0" by event, verify cgroup.procs is empty,
// remove the scope and the session's files. Each step is reported.
#pragma once

#include <chrono>
#include <optional>

#include "corral/backend/scope_backend.hpp"
#include "corral/launch/browser_launcher.hpp"
#include "corral/session/session.hpp"

namespace corral {

struct CleanupTimeouts {
  std::chrono::milliseconds grace{2000};      ///< SIGTERM → cgroup.kill; 0 kills at once
  std::chrono::milliseconds kill_wait{5000};  ///< per cgroup.kill, for populated 0
};

/// End everything of session `id`. `scope` is empty for a browser that never
/// got one (its open failed first): then it still waits at its gate and a
/// SIGKILL to it is the whole kill.
CloseReport clean_up_session(ScopeBackend& backend, BrowserProcess& browser, const std::optional<Scope>& scope,
                             const std::string& id, CloseReason reason, CleanupTimeouts timeouts);

/// Kill and remove a scope an earlier run of the daemon left behind.
Result<void> remove_leftover_scope(ScopeBackend& backend, const Scope& scope, std::chrono::milliseconds kill_wait);

}  // namespace corral
