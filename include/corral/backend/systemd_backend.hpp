// SystemdBackend: each session is a transient scope, started over sd-bus on
// the system or the user manager: corral-<id>.scope in corral.slice for the
// default instance, corral-X-<id>.scope in corral-X.slice (which systemd
// puts in corral.slice) for instance X.
#pragma once

#include "corral/backend/cgroup_scope_backend.hpp"
#include "corral/backend/systemd_bus.hpp"

namespace corral {

class SystemdBackend : public CgroupScopeBackend {
 public:
  /// Connect to the manager, read which controllers it can give scopes,
  /// start this instance's slice and lock its cgroup (claim_sessions_root:
  /// EBUSY when another corrald runs this instance on that manager).
  static Result<std::unique_ptr<SystemdBackend>> connect(SystemdBus::Manager manager, InstanceNaming naming);

  std::string kind() const override;
  std::filesystem::path sessions_root() const override { return m_slice_cgroup; }
  Controllers controllers() const override { return m_controllers; }
  Result<Scope> create(const ScopeSpec& spec) override;
  Result<void> destroy(const Scope& scope) override;
  Result<std::vector<Scope>> find_leftovers() override;
  Result<void> freeze(const Scope& scope) override;
  Result<void> thaw(const Scope& scope) override;
  Result<void> set_limits(const Scope& scope, const Limits& limits) override;

 private:
  SystemdBackend(InstanceNaming naming, std::unique_ptr<SystemdBus> bus, SystemdBus::Manager manager,
                 std::filesystem::path mount, std::filesystem::path slice_cgroup, Controllers controllers)
      : CgroupScopeBackend(std::move(naming)), m_bus(std::move(bus)), m_manager(manager), m_mount(std::move(mount)),
        m_slice_cgroup(std::move(slice_cgroup)), m_controllers(controllers) {}
  Result<Scope> describe(const std::string& name);

  std::unique_ptr<SystemdBus> m_bus;
  SystemdBus::Manager m_manager;
  std::filesystem::path m_mount;         ///< cgroup2 mount point
  std::filesystem::path m_slice_cgroup;  ///< where this instance's slice lives
  Controllers m_controllers;
};

}  // namespace corral
