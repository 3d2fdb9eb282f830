// ScopeBackend: the one interface between sessions and whatever owns cgroups
// on this host (systemd's system or user manager, or a delegated cgroupfs
// subtree). A backend puts a gated process into a fresh cgroup with limits,
// and removes that cgroup once the session has emptied it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "corral/util/error.hpp"
#include "corral/cgroup/limits.hpp"

namespace corral {

/// Prefix of every unit and cgroup corral creates; leftovers are found by it.
inline constexpr const char* kScopePrefix = "corral-";

struct ScopeSpec {
  std::string name;         ///< "corral-<session id>"
  pid_t pid = -1;           ///< gated child to move in; nothing of it runs yet
  Limits limits;
  std::string description;  ///< shown by systemctl status
};

struct Scope {
  std::string name;               ///< "corral-<session id>"
  std::string unit;               ///< "corral-<id>.scope", or "" for cgroupfs
  std::filesystem::path cgroup;   ///< absolute path in the cgroup2 mount
};

class ScopeBackend {
 public:
  virtual ~ScopeBackend() = default;
  /// "systemd-system", "systemd-user" or "cgroupfs".
  virtual std::string kind() const = 0;
  /// The cgroup under which session cgroups are made (for health and docs).
  virtual std::filesystem::path sessions_root() const = 0;
  /// Controllers that really exist for session cgroups.
  virtual Controllers controllers() const = 0;
  /// Make the session's cgroup with `spec.limits` and move `spec.pid` into it.
  /// EEXIST when the name is taken.
  virtual Result<Scope> create(const ScopeSpec& spec) = 0;
  /// Remove an emptied scope: unit unloaded and cgroup directory gone.
  virtual Result<void> destroy(const Scope& scope) = 0;
  /// Scopes named corral-* left by an earlier run of the daemon.
  virtual Result<std::vector<Scope>> find_leftovers() = 0;
};

}  // namespace corral
