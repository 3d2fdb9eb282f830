// Where the cgroup v2 tree is and where a process sits in it. Pure parsers are
// split from the readers so they can be unit-tested on strings.
#pragma once

#include <filesystem>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// Mount point of the cgroup2 filesystem in a /proc/self/mountinfo text
/// ("/sys/fs/cgroup" on unified hosts, "/sys/fs/cgroup/unified" on hybrid ones).
Result<std::filesystem::path> find_cgroup2_mount(const std::string& mountinfo);

/// The v2 path ("0::/a/b" line) in a /proc/PID/cgroup text, e.g. "/a/b".
Result<std::string> find_unified_cgroup(const std::string& proc_cgroup);

/// find_cgroup2_mount on this machine's /proc/self/mountinfo.
Result<std::filesystem::path> cgroup2_mount();

/// The cgroup v2 path of `pid` relative to the mount ("/" for the root).
Result<std::string> cgroup_of_process(pid_t pid);

}  // namespace corral
