// CgroupfsBackend: for hosts and containers without systemd. corrald owns a
// delegated cgroup v2 subtree and makes one child cgroup per session itself:
// <root>/corral-<id> for the default instance, and for instance X
// <root>/corral-X.slice/corral-X-<id>, so that several corralds can share a
// root (and a cap on it) without ever taking each other's cgroups.
#pragma once

#include "corral/cgroup/cgroup.hpp"
#include "corral/backend/cgroup_scope_backend.hpp"

namespace corral {

class CgroupfsBackend : public CgroupScopeBackend {
 public:
  /// Use `shared_root` (absolute, inside the cgroup2 mount; the root every
  /// instance shares) and below it naming.sessions_root(shared_root) as the
  /// parent of session cgroups: create them, enable every memory/cpu/pids
  /// controller each level can pass down, and lock this instance's root
  /// (claim_sessions_root). EACCES/EROFS when the subtree is not ours to
  /// write; EBUSY when another corrald runs this instance there.
  static Result<std::unique_ptr<CgroupfsBackend>> open(const std::filesystem::path& shared_root,
                                                       InstanceNaming naming);
  /// The default shared root: "corral" below the daemon's own cgroup.
  static Result<std::filesystem::path> default_root();
  /// A named instance's own root (corral-X.slice) goes with it when it is
  /// empty: a host where instances came and went keeps no trace of them.
  ~CgroupfsBackend() override;

  std::string kind() const override { return "cgroupfs"; }
  std::filesystem::path sessions_root() const override { return m_root.path(); }
  Controllers controllers() const override { return m_controllers; }
  Result<Scope> create(const ScopeSpec& spec) override;
  Result<void> destroy(const Scope& scope) override;
  Result<std::vector<Scope>> find_leftovers() override;
  Result<void> freeze(const Scope& scope) override;
  Result<void> thaw(const Scope& scope) override;
  Result<void> set_limits(const Scope& scope, const Limits& limits) override;

 private:
  CgroupfsBackend(InstanceNaming naming, std::filesystem::path root, Controllers controllers, bool root_is_own)
      : CgroupScopeBackend(std::move(naming)), m_root(std::move(root)), m_controllers(controllers),
        m_root_is_own(root_is_own) {}

  Cgroup m_root;
  Controllers m_controllers;
  bool m_root_is_own;  ///< a named instance's corral-X.slice, not the shared root
};

}  // namespace corral
