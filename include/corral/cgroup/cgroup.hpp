// Cgroup: one cgroup v2 directory and the kernel interfaces corral relies on
// to end a session: cgroup.kill, cgroup.events, cgroup.procs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "corral/util/error.hpp"
#include "corral/cgroup/limits.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// Live use of a session, read from its cgroup. A value is empty when the
/// controller that provides it is missing (hybrid hosts have no memory.current).
struct CgroupStats {
  std::optional<uint64_t> memory_current;
  std::optional<uint64_t> memory_peak;
  std::optional<uint64_t> oom_kills;
  std::optional<uint64_t> cpu_usage_usec;
  uint64_t processes = 0;
};

/// A cgroup that vanished (systemd garbage-collects an emptied scope at once)
/// holds no process: the kernel refuses to remove a populated cgroup. So the
/// queries below answer "empty" for a removed cgroup instead of failing.
class Cgroup {
 public:
  explicit Cgroup(std::filesystem::path path) : m_path(std::move(path)) {}
  const std::filesystem::path& path() const { return m_path; }

  bool exists() const;
  /// Write "1" to cgroup.kill: SIGKILL to every process in this cgroup and its
  /// descendants, wherever they sit in the process tree (kernel ≥ 5.14).
  Result<void> kill() const;
  /// True when cgroup.events says "populated 1". Zombies do not count.
  Result<bool> populated() const;
  /// Wait, by poll(2) on cgroup.events (the kernel signals POLLPRI on each
  /// change), until "populated 0". Returns false if `timeout` passed first.
  Result<bool> wait_until_empty(std::chrono::milliseconds timeout) const;
  /// PIDs listed in cgroup.procs of this cgroup and all its descendants.
  Result<std::vector<pid_t>> processes() const;
  Result<void> add_process(pid_t pid) const;
  /// Write the limit files whose controllers are enabled for this cgroup.
  Result<void> apply_limits(const Limits& limits) const;
  /// Write cgroup.freeze (1: freeze, 0: thaw) and wait, by poll(2) on
  /// cgroup.events, until it says "frozen 1" / "frozen 0". The kernel
  /// freezes every process of the subtree; a frozen one uses no CPU and
  /// still dies of SIGKILL (cgroup.kill). ETIMEDOUT past `timeout`.
  Result<void> set_frozen(bool frozen, std::chrono::milliseconds timeout) const;
  /// True when cgroup.events says "frozen 1".
  Result<bool> frozen() const;
  /// Which limits this cgroup really enforces: the controller files exist.
  Controllers enforced() const;
  CgroupStats stats() const;
  /// rmdir this cgroup and any child cgroups, leaves first, retrying briefly on
  /// EBUSY (the kernel frees a just-emptied cgroup asynchronously).
  Result<void> remove() const;

 private:
  std::filesystem::path file(const char* name) const { return m_path / name; }
  Result<UniqueFd> open_events() const;
  std::filesystem::path m_path;
};

/// Parse one "key value" line set (cgroup.events, memory.events, cpu.stat).
std::optional<uint64_t> find_keyed_value(const std::string& text, const std::string& key);

}  // namespace corral
