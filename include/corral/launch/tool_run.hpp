// Run a system tool (`ip`, `nft`) to its end, feeding it text on stdin,
// optionally inside a network namespace: what the kernel way out
// (kernel_way_out.hpp) sets devices and rules up with.
#pragma once

#include <string>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

/// argv[0] is an absolute path; the environment is empty. `netns_fd` >= 0:
/// the child enters that network namespace first. Its stdout on exit 0;
/// otherwise an error naming the tool, its exit status and its stderr.
Result<std::string> run_tool(const std::vector<std::string>& argv, const std::string& input, int netns_fd = -1);

}  // namespace corral
