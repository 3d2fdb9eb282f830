// SystemdBackend: each session is a transient scope corral-<id>.scope in
// corral.slice, started over sd-bus on the system or the user manager.
#pragma once

#include "corral/backend/cgroup_scope_backend.hpp"
#include "corral/backend/systemd_bus.hpp"

namespace corral {

class SystemdBackend : public CgroupScopeBackend {
 public:
  /// Connect to the manager and read which controllers it can give scopes.
  static Result<std::unique_ptr<SystemdBackend>> connect(SystemdBus::Manager manager);

  std::string kind() const override;
  std::filesystem::path sessions_root() const override { return m_slice_cgroup; }
  Controllers controllers() const override { return m_controllers; }
  Result<Scope> create(const ScopeSpec& spec) override;
  Result<void> destroy(const Scope& scope) override;
  Result<std::vector<Scope>> find_leftovers() override;

 private:
  SystemdBackend(std::unique_ptr<SystemdBus> bus, SystemdBus::Manager manager, std::filesystem::path mount,
                 std::filesystem::path slice_cgroup, Controllers controllers)
      : m_bus(std::move(bus)), m_manager(manager), m_mount(std::move(mount)),
        m_slice_cgroup(std::move(slice_cgroup)), m_controllers(controllers) {}
  Result<Scope> describe(const std::string& name);

  std::unique_ptr<SystemdBus> m_bus;
  SystemdBus::Manager m_manager;
  std::filesystem::path m_mount;         ///< cgroup2 mount point
  std::filesystem::path m_slice_cgroup;  ///< where corral.slice lives
  Controllers m_controllers;
};

}  // namespace corral
