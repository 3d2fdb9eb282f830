// FakeScopeBackend: scopes as entries in a map, for tests of the session
// manager's logic. It checks what the real backends guarantee (a name is
// taken once; only an emptied scope is destroyed) and counts every call, so
// a test can assert what the host would have been asked to do.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "corral/backend/scope_backend.hpp"

namespace corral::testing {

class FakeScopeBackend : public ScopeBackend {
 public:
  struct FakeScope {
    pid_t pid = -1;   ///< the process create() moved in
    Limits limits;
    bool populated = true;
    uint64_t oom_kills = 0;
    bool frozen = false;
  };

  std::string kind() const override { return "fake"; }
  const InstanceNaming& naming() const override { return instance; }
  std::filesystem::path sessions_root() const override { return "/fake/corral.slice"; }
  Controllers controllers() const override { return available; }

  Result<Scope> create(const ScopeSpec& spec) override {
    std::lock_guard lock(m_mutex);
    ++creates;
    if (fail_create) return *fail_create;
    if (m_scopes.count(spec.name)) return Error::make(EEXIST, "scope " + spec.name + " exists");
    m_scopes[spec.name] = FakeScope{spec.pid, spec.limits};
    return scope_named(spec.name);
  }

  Result<void> destroy(const Scope& scope) override {
    std::lock_guard lock(m_mutex);
    auto it = m_scopes.find(scope.name);
    if (it == m_scopes.end()) return success();
    if (it->second.populated) return Error::make(EBUSY, "destroy of a populated scope " + scope.name);
    m_scopes.erase(it);
    return success();
  }

  Result<std::vector<Scope>> find_leftovers() override {
    std::lock_guard lock(m_mutex);
    std::vector<Scope> scopes;
    for (const auto& [name, scope] : m_scopes) scopes.push_back(scope_named(name));
    return scopes;
  }

  Controllers enforced(const Scope&) const override { return available; }

  CgroupStats stats(const Scope& scope) const override {
    std::lock_guard lock(m_mutex);
    CgroupStats stats;
    if (auto it = m_scopes.find(scope.name); it != m_scopes.end()) {
      stats.oom_kills = it->second.oom_kills;
      stats.memory_peak = 1 << 20;
      stats.processes = it->second.populated ? 1 : 0;
    }
    return stats;
  }

  KillOutcome kill_all(const Scope& scope, std::chrono::milliseconds) override {
    KillOutcome outcome;
    pid_t killed = -1;
    {
      std::lock_guard lock(m_mutex);
      ++kills;
      auto it = m_scopes.find(scope.name);
      if (it != m_scopes.end() && it->second.populated && !stuck.count(scope.name)) {
        outcome.processes_killed = 1;
        it->second.populated = false;
        killed = it->second.pid;
      }
      outcome.verified_empty = it == m_scopes.end() || !it->second.populated;
      if (!outcome.verified_empty) outcome.stuck_pids = {it->second.pid};
    }
    if (killed > 0 && on_kill) on_kill(killed);  // outside the lock, as a real exit arrives
    return outcome;
  }

  Result<void> check_contains(const Scope& scope, pid_t pid) const override {
    std::lock_guard lock(m_mutex);
    auto it = m_scopes.find(scope.name);
    if (it == m_scopes.end() || it->second.pid != pid) return Error::make(ESRCH, "not in " + scope.name);
    return success();
  }

  Result<void> freeze(const Scope& scope) override { return set_frozen(scope, true); }
  Result<void> thaw(const Scope& scope) override { return set_frozen(scope, false); }
  Result<void> set_limits(const Scope& scope, const Limits& limits) override {
    std::lock_guard lock(m_mutex);
    auto it = m_scopes.find(scope.name);
    if (it == m_scopes.end()) return Error::make(ENOENT, "no scope " + scope.name);
    it->second.limits = limits;
    return success();
  }

  // For tests.
  bool frozen(const std::string& name) const {
    std::lock_guard lock(m_mutex);
    return m_scopes.at(name).frozen;
  }
  Limits limits_of(const std::string& name) const {
    std::lock_guard lock(m_mutex);
    return m_scopes.at(name).limits;
  }
  Scope add_leftover(const std::string& name, pid_t pid) {
    std::lock_guard lock(m_mutex);
    m_scopes[name] = FakeScope{pid, {}};
    return scope_named(name);
  }
  static Scope scope_named(const std::string& name) {
    return Scope{name, name + ".scope", "/fake/corral.slice/" + name + ".scope"};
  }
  bool has(const std::string& name) const {
    std::lock_guard lock(m_mutex);
    return m_scopes.count(name) > 0;
  }
  size_t count() const {
    std::lock_guard lock(m_mutex);
    return m_scopes.size();
  }
  void set_oom_kills(const std::string& name, uint64_t kills_seen) {
    std::lock_guard lock(m_mutex);
    m_scopes.at(name).oom_kills = kills_seen;
  }

  InstanceNaming instance;  ///< the default instance unless a test names another
  Controllers available{true, true, true};
  std::optional<Error> fail_create;
  std::set<std::string> stuck;  ///< scopes whose processes survive kill_all
  std::atomic<int> creates{0}, kills{0};
  std::function<void(pid_t)> on_kill;  ///< what a kill does to the process in the scope

 private:
  Result<void> set_frozen(const Scope& scope, bool frozen) {
    std::lock_guard lock(m_mutex);
    auto it = m_scopes.find(scope.name);
    if (it == m_scopes.end()) return Error::make(ENOENT, "no scope " + scope.name);
    it->second.frozen = frozen;
    return success();
  }

  mutable std::mutex m_mutex;
  std::map<std::string, FakeScope> m_scopes;
};

}  // namespace corral::testing
