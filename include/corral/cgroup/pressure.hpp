// Pressure stall information (PSI): how much of the time the tasks of a
// cgroup waited for memory or CPU. The kernel keeps it per cgroup in
// memory.pressure and cpu.pressure when it was built with PSI and has it on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// One line of a pressure file ("some ..." or "full ...").
struct PressureLine {
  double avg10 = 0, avg60 = 0, avg300 = 0;  ///< % of wall time stalled, over 10 s, 60 s, 300 s
  uint64_t total_usec = 0;                  ///< stalled time since the cgroup was made
};

/// "some": at least one task stalled; "full": every non-idle task stalled at
/// once. Older kernels have no "full" line in cpu.pressure.
struct Pressure {
  std::optional<PressureLine> some;
  std::optional<PressureLine> full;
};

/// Parse the text of a pressure file. EINVAL when it has no valid line.
Result<Pressure> parse_pressure(const std::string& text);

/// Read `<cgroup>/<resource>.pressure` ("memory", "cpu"). ENOENT on a kernel
/// without PSI, EOPNOTSUPP when it is switched off (psi=0, cgroup.pressure 0).
Result<Pressure> read_pressure(const std::filesystem::path& cgroup, const std::string& resource);

}  // namespace corral
