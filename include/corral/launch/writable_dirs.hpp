// Where a session can leave files outside its own directories: every
// world-writable directory of the mount namespace sessions run in. Nobody
// lists them by hand (a host has /run/lock, /tmp/.X11-unix, /var/crash, a
// PHP session dir...): corrald finds them by walking each writable, real
// (not pseudo) filesystem of its mountinfo, breadth-first so that the
// shallow ones come first, bounded in depth, directories and time. The walk
// never follows a symlink and stays on each mount's own filesystem (every
// mount is walked from its own mount point). What it found, and whether a
// bound cut it short, is reported in health.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace corral {

struct DiscoveryLimits {
  size_t max_depth = 8;          ///< below a mount point
  size_t max_directories = 100000;
  std::chrono::milliseconds max_time{3000};
};

struct WritableDirs {
  std::vector<std::string> dirs;  ///< world-writable directories, shallow first
  std::chrono::milliseconds took{0};
  size_t directories_read = 0;
  std::vector<std::string> mounts;  ///< the mount points walked
  /// Empty when the walk saw everything; else which bound cut it short.
  std::string incomplete;
  std::chrono::steady_clock::time_point at{};
};

/// Mount points of a /proc/PID/mountinfo text a session could write to:
/// not mounted read-only and not a pseudo filesystem (proc, sysfs, cgroup,
/// devpts, mqueue...; message queues are swept on their own). Octal
/// escapes ("\040") are decoded. A mount point listed twice (mounted over)
/// once.
std::vector<std::string> writable_mount_points(const std::string& mountinfo);

/// Walk `mounts` for world-writable directories within `limits`. Directories
/// whose owner `skip_owner` names are not entered (a session's own: its
/// sweep removes them whole).
WritableDirs discover_writable_dirs(const std::vector<std::string>& mounts, const DiscoveryLimits& limits,
                                    const std::function<bool(uid_t)>& skip_owner);

/// The same for this process's own mount namespace (/proc/self/mountinfo).
WritableDirs discover_writable_dirs(const DiscoveryLimits& limits, const std::function<bool(uid_t)>& skip_owner);

}  // namespace corral
