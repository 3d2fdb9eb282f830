#include "corral/backend/select.hpp"

#include <unistd.h>

#include "corral/backend/cgroupfs_backend.hpp"
#include "corral/backend/systemd_backend.hpp"

namespace corral {

Result<BackendChoice> parse_backend_choice(const std::string& text) {
  if (text == "auto") return BackendChoice::automatic;
  if (text == "systemd-system") return BackendChoice::systemd_system;
  if (text == "systemd-user") return BackendChoice::systemd_user;
  if (text == "cgroupfs") return BackendChoice::cgroupfs;
  return Error::make(EINVAL, "unknown backend '" + text + "' (use auto, systemd-system, systemd-user or cgroupfs)");
}

namespace {

Result<std::unique_ptr<ScopeBackend>> open_cgroupfs(const std::filesystem::path& cgroup_root,
                                                     const InstanceNaming& naming) {
  auto root = cgroup_root.empty() ? CgroupfsBackend::default_root() : Result<std::filesystem::path>(cgroup_root);
  if (!root) return root.error();
  auto backend = CgroupfsBackend::open(*root, naming);
  if (!backend) return backend.error();
  return std::unique_ptr<ScopeBackend>(std::move(*backend));
}

Result<std::unique_ptr<ScopeBackend>> open_systemd(SystemdBus::Manager manager, const InstanceNaming& naming) {
  auto backend = SystemdBackend::connect(manager, naming);
  if (!backend) return backend.error();
  return std::unique_ptr<ScopeBackend>(std::move(*backend));
}

Result<std::unique_ptr<ScopeBackend>> open_choice(BackendChoice choice, const std::filesystem::path& cgroup_root,
                                                   const InstanceNaming& naming) {
  switch (choice) {
    case BackendChoice::systemd_system: return open_systemd(SystemdBus::Manager::system, naming);
    case BackendChoice::systemd_user: return open_systemd(SystemdBus::Manager::user, naming);
    default: return open_cgroupfs(cgroup_root, naming);
  }
}

}  // namespace

Result<BackendSelection> select_backend(BackendChoice choice, const std::filesystem::path& cgroup_root,
                                        const InstanceNaming& naming) {
  BackendSelection selection;
  if (choice != BackendChoice::automatic) {
    auto backend = open_choice(choice, cgroup_root, naming);
    if (!backend) return backend.error();
    selection.backend = std::move(*backend);
    return selection;
  }
  std::vector<BackendChoice> candidates = {BackendChoice::systemd_user, BackendChoice::cgroupfs};
  if (::geteuid() == 0) candidates.insert(candidates.begin(), BackendChoice::systemd_system);
  for (auto candidate : candidates) {
    auto backend = open_choice(candidate, cgroup_root, naming);
    if (backend) {
      selection.backend = std::move(*backend);
      return selection;
    }
    // Another corrald runs this instance on that manager: going on to the
    // next backend would run the same instance twice on one host.
    if (backend.error().code == EBUSY) return backend.error();
    selection.passed_over.push_back(backend.error().message);
  }
  std::string failures;
  for (const auto& reason : selection.passed_over) failures += (failures.empty() ? "" : "; ") + reason;
  return Error::make(ENODEV, "no usable backend: " + failures);
}

}  // namespace corral
