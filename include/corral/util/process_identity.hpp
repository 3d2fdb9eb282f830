// Telling one process from another that later got the same PID. A restarted
// daemon finds a session's PID in its state file; before it signals or adopts
// that process it checks the process is still the one it started.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// Field 22 of a /proc/PID/stat text: when the process started, in clock
/// ticks since boot. EBADMSG if the text is not a stat line.
Result<uint64_t> parse_process_start_time(const std::string& stat);

/// The start time of a running process. ENOENT (or ESRCH) when it is gone.
Result<uint64_t> process_start_time(pid_t pid);

}  // namespace corral
