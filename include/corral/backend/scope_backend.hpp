// ScopeBackend: the one interface between sessions and whatever owns cgroups
// on this host (systemd's system or user manager, or a delegated cgroupfs
// subtree). A backend puts a gated process into a fresh cgroup with limits,
// and removes that cgroup once the session has emptied it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "corral/util/error.hpp"
#include "corral/backend/instance_naming.hpp"
#include "corral/cgroup/cgroup.hpp"
#include "corral/cgroup/limits.hpp"

namespace corral {

struct ScopeSpec {
  std::string name;         ///< naming().scope_name(id): "corral-<id>", "corral-X-<id>"
  pid_t pid = -1;           ///< gated child to move in; nothing of it runs yet
  Limits limits;
  std::string description;  ///< shown by systemctl status
};

struct Scope {
  std::string name;               ///< "corral-<id>", or "corral-X-<id>" for instance X
  std::string unit;               ///< name + ".scope", or "" for cgroupfs
  std::filesystem::path cgroup;   ///< absolute path in the cgroup2 mount
};

/// What ending every process of a scope found: cgroup.kill until the kernel
/// says "populated 0", then cgroup.procs read back.
struct KillOutcome {
  uint64_t processes_killed = 0;   ///< processes there when the kill began
  bool verified_empty = false;     ///< populated 0 and cgroup.procs empty
  std::vector<pid_t> stuck_pids;   ///< still there after two kills (D state, ...)
  std::vector<std::string> problems;
  double kill_ms = 0;    ///< from the first cgroup.kill until populated 0 (or the give-up)
  double verify_ms = 0;  ///< reading cgroup.events and cgroup.procs back
};

/// The session manager's only way to the host's cgroups: tests replace it
/// with a fake (tests/unit/fakes), so everything here is an interface.
class ScopeBackend {
 public:
  virtual ~ScopeBackend() = default;
  /// "systemd-system", "systemd-user" or "cgroupfs".
  virtual std::string kind() const = 0;
  /// The corrald instance whose scopes these are, and how it names them.
  virtual const InstanceNaming& naming() const = 0;
  /// The cgroup under which session cgroups are made (for health and docs).
  virtual std::filesystem::path sessions_root() const = 0;
  /// Controllers that really exist for session cgroups.
  virtual Controllers controllers() const = 0;
  /// Make the session's cgroup with `spec.limits` and move `spec.pid` into it.
  /// EEXIST when the name is taken.
  virtual Result<Scope> create(const ScopeSpec& spec) = 0;
  /// Remove an emptied scope: unit unloaded and cgroup directory gone.
  virtual Result<void> destroy(const Scope& scope) = 0;
  /// This instance's scopes left by an earlier run of the daemon: those in
  /// this instance's own place (sessions_root) with one of its scope names,
  /// and never another instance's.
  virtual Result<std::vector<Scope>> find_leftovers() = 0;

  /// Which limits the scope's cgroup really enforces (its controller files
  /// exist), read from the host, not assumed.
  virtual Controllers enforced(const Scope& scope) const = 0;
  /// Live use of the scope; empty values where a controller is missing.
  virtual CgroupStats stats(const Scope& scope) const = 0;
  /// SIGKILL every process in the scope and wait up to `wait` per round for
  /// the scope to empty; processes that survive two rounds are reported.
  virtual KillOutcome kill_all(const Scope& scope, std::chrono::milliseconds wait) = 0;
  /// Freeze every process of the scope, and return once the kernel says
  /// the cgroup is frozen (a warm browser waiting to be handed out: it uses
  /// no CPU). ETIMEDOUT when it does not freeze within a bounded wait;
  /// EOPNOTSUPP when the owner of the cgroups cannot freeze here (systemd
  /// on a hybrid host freezes nothing, and corral does not go behind it).
  virtual Result<void> freeze(const Scope& scope) = 0;
  /// Undo freeze(), and return once the cgroup says "frozen 0".
  virtual Result<void> thaw(const Scope& scope) = 0;
  /// Write `limits` (its set fields) to a running scope: a warm browser
  /// takes the limits of the request it is handed to.
  virtual Result<void> set_limits(const Scope& scope, const Limits& limits) = 0;
  /// Success when `pid` runs in the scope's cgroup or below it.
  virtual Result<void> check_contains(const Scope& scope, pid_t pid) const = 0;
};

}  // namespace corral
