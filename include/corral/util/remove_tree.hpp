// remove_tree: rm -rf for a directory tree that someone else owns and may
// still be changing, as systemd's rm_rf does it. corrald removes a session's
// directories as root; the session user can put symlinks there, or swap a
// directory for a symlink while it is being removed. A path-based removal
// (std::filesystem::remove_all) would then follow the link and delete
// whatever it points to.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// How deep remove_tree goes below the directory it removes. Each level
/// holds a file descriptor open, and whoever owns the tree can nest
/// directories without end; deeper ones are left in place.
inline constexpr size_t kMaxRemoveDepth = 128;

/// Remove `dir` and everything below it. Every step is relative to an open
/// directory descriptor, opened with O_NOFOLLOW: a symbolic link is
/// unlinked, never followed, also one swapped in for a directory while this
/// runs. It does not leave the filesystem of `dir`'s parent: a mount point
/// below is left in place. `dir` itself, when not a directory (a symlink, a
/// file), is unlinked. Succeeds when `dir` does not exist. On a failure it
/// removes what else it can and returns the first error, naming the path:
/// EXDEV for a mount point, ELOOP for a tree deeper than kMaxRemoveDepth,
/// EINVAL for a path without a last component ("/", "."), or the errno of
/// the failed call.
Result<void> remove_tree(const std::filesystem::path& dir);

/// What remove_tree_at may do besides unlinking.
struct RemoveTreeOptions {
  /// Give a directory the caller owns back its owner's rights (u+rwx)
  /// before it is emptied: a session sweeping as its own uid must get
  /// through a directory it made with mode 000. Never for root, whose
  /// chmod would reach any directory; as a user, only its own.
  bool restore_owner_rights = false;
};

/// remove_tree for `name` in the open directory `parent`; `shown_as` is
/// its path for messages only.
Result<void> remove_tree_at(int parent, const std::string& name, const std::filesystem::path& shown_as,
                            RemoveTreeOptions options = {});

}  // namespace corral
