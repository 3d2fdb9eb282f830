// nft commands run inside corrald through libnftables, the library the nft
// binary is made of: the same syntax, the same listings, no fork of corrald
// and no exec. A session's open waits for its rules, and four runs of nft
// and ip (each a fork and an exec) cost it 13-24 ms beside the browser's
// start on 2 cores (docs/benchmarks.md, "The kernel way out in process").
#pragma once

#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// Runs `commands` (what `nft -f -` reads) in corrald's network namespace,
/// or in `netns_fd`'s; what they print (a listing), or nft's error message.
Result<std::string> run_nft(const std::string& commands, int netns_fd = -1);

}  // namespace corral
