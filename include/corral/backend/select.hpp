// Choosing the scope backend at start-up: what --backend asks for, or the
// best one this host offers.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "corral/backend/scope_backend.hpp"

namespace corral {

enum class BackendChoice { automatic, systemd_system, systemd_user, cgroupfs };

/// "auto", "systemd-system", "systemd-user", "cgroupfs"; EINVAL otherwise.
Result<BackendChoice> parse_backend_choice(const std::string& text);

struct BackendSelection {
  std::unique_ptr<ScopeBackend> backend;
  std::vector<std::string> passed_over;  ///< why earlier candidates were not used
};

/// auto: the systemd system manager when root and reachable, else the user
/// manager, else a writable cgroupfs subtree (`cgroup_root`, or the default).
/// The backend serves the instance `naming` names.
Result<BackendSelection> select_backend(BackendChoice choice, const std::filesystem::path& cgroup_root,
                                        const InstanceNaming& naming);

}  // namespace corral
