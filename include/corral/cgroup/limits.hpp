// Per-session resource limits, and which of them the host can enforce.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// Limits of one session; an empty optional means "no limit".
struct Limits {
  std::optional<uint64_t> memory_max;   ///< bytes → memory.max / MemoryMax
  std::optional<uint64_t> memory_high;  ///< bytes → memory.high / MemoryHigh
  std::optional<uint64_t> cpu_percent;  ///< % of one CPU → cpu.max / CPUQuotaPerSecUSec
  std::optional<uint64_t> tasks_max;    ///< → pids.max / TasksMax

  /// Each unset field of this one takes the value of `defaults`.
  Limits with_defaults(const Limits& defaults) const;
  bool any() const { return memory_max || memory_high || cpu_percent || tasks_max; }
};

/// The cgroup v2 controllers that really exist where sessions are created.
/// systemd accepts MemoryMax silently without the memory controller, so this
/// is read from cgroupfs, never assumed.
struct Controllers {
  bool memory = false;
  bool cpu = false;
  bool tasks = false;  ///< the kernel's "pids" controller, which enforces tasks_max

  /// Parse the text of cgroup.controllers / cgroup.subtree_control.
  static Controllers parse(const std::string& text);
  std::string describe() const;  ///< "memory cpu" or "none"
};

/// EOPNOTSUPP when `requested` (what the client asked for explicitly) sets a
/// limit whose controller is missing, with a message that says what to do.
Result<void> check_enforceable(const Limits& requested, const Controllers& available);

}  // namespace corral
