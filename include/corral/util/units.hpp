// Parsing of the units clients write in requests and operators in flags:
// memory sizes ("1536M", "2G", 1073741824) and CPU quotas ("150%").
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "corral/util/error.hpp"

namespace corral {

/// "512", "512K", "1536M", "2G", "1T" (binary multiples; an optional "i"/"iB"/"B"
/// suffix is accepted, as systemd does). EINVAL with a message on anything
/// else: negative numbers, fractions, overflow, unknown suffixes, empty text.
Result<uint64_t> parse_size(std::string_view text);

/// "150%" or "150" → 150 (percent of one CPU). EINVAL outside 1..100000.
Result<uint64_t> parse_cpu_percent(std::string_view text);

}  // namespace corral

namespace corral {

/// "2" or "1.5" (seconds), "500ms", "2s", "10m", "2h" → milliseconds. EINVAL on
/// anything else, on negative values and above `max`.
Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::chrono::milliseconds max);

}  // namespace corral
