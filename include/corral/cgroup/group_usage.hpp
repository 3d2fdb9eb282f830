// What a parent cgroup's own files say about everything below it: the
// cgroup that holds every session (corral.slice, or the cgroupfs root) is
// where "all sessions together" is measured and capped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "corral/cgroup/pressure.hpp"

namespace corral {

/// Each value is empty where the kernel offers no such file here (no memory
/// controller, no PSI) or where it says "max" (no cap): never a made-up 0.
struct GroupUsage {
  std::optional<uint64_t> memory_current;  ///< memory.current
  std::optional<uint64_t> memory_max;      ///< memory.max, when it is a number
  std::optional<uint64_t> cpu_usage_usec;  ///< cpu.stat usage_usec: sessions alive and gone
  std::optional<Pressure> memory_pressure;
  std::optional<Pressure> cpu_pressure;
};

GroupUsage read_group_usage(const std::filesystem::path& cgroup);

}  // namespace corral
