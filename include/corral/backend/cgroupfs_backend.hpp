// CgroupfsBackend: for hosts and containers without systemd. corrald owns a
// delegated cgroup v2 subtree and makes one child cgroup per session itself.
#pragma once

#include "corral/cgroup/cgroup.hpp"
#include "corral/backend/cgroup_scope_backend.hpp"

namespace corral {

class CgroupfsBackend : public CgroupScopeBackend {
 public:
  /// Use `root` (absolute, inside the cgroup2 mount) as the parent of session
  /// cgroups: create it, and enable every memory/cpu/pids controller the
  /// parent can pass down. EACCES/EROFS when the subtree is not ours to write.
  static Result<std::unique_ptr<CgroupfsBackend>> open(const std::filesystem::path& root);
  /// The default root: "corral" beside (or below) the daemon's own cgroup.
  static Result<std::filesystem::path> default_root();

  std::string kind() const override { return "cgroupfs"; }
  std::filesystem::path sessions_root() const override { return m_root.path(); }
  Controllers controllers() const override { return m_controllers; }
  Result<Scope> create(const ScopeSpec& spec) override;
  Result<void> destroy(const Scope& scope) override;
  Result<std::vector<Scope>> find_leftovers() override;

 private:
  CgroupfsBackend(std::filesystem::path root, Controllers controllers) : m_root(std::move(root)), m_controllers(controllers) {}

  Cgroup m_root;
  Controllers m_controllers;
};

}  // namespace corral
