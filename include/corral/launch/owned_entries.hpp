// What one uid owns in the world-writable directories, found and removed
// by the sweep command after it has dropped to that uid (uid_sweep.hpp).
// Everything is relative to an open directory: no name is followed if it
// is a symlink, no mount is crossed. A uid can only have made entries in a
// directory it may write to: its own (removed whole) or a world-writable
// one (its pool gid is its own; no group grants it more), so the walk goes
// down only into world-writable directories of others, as deep as
// kMaxOwnedSweepDepth.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace corral {

inline constexpr size_t kMaxOwnedSweepDepth = 16;

/// Remove every entry `uid` (the caller's own uid) owns in the open
/// directory `dir` (shown as `path`) and in the world-writable directories
/// of others below it; a directory of its own it made unreadable (mode
/// 000) gets its owner's rights back first. What could not be removed is
/// appended to `left`, one message each.
void remove_owned_entries(int dir, const std::string& path, uid_t uid, std::vector<std::string>& left);

/// The same walk, removing nothing: each entry `uid` still owns is appended
/// to `left`.
void list_owned_entries(int dir, const std::string& path, uid_t uid, std::vector<std::string>& left);

}  // namespace corral
