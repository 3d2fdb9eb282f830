// Exclusive locks that tell a second corrald that a place is taken: flock(2)
// on an open file or directory, held for as long as the daemon runs and
// released by the kernel when it exits, however it exits (kill -9 too), so
// no stale lock ever needs removing by hand.
#pragma once

#include <filesystem>
#include <string>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// flock(LOCK_EX | LOCK_NB) on `fd`. The lock belongs to the open file, not
/// the descriptor: every other open of the same file or directory, in this
/// process or another, is refused while it is held. EBUSY, with `what`, when
/// someone holds it.
Result<void> lock_exclusive(int fd, const std::string& what);

/// Open `directory` (O_RDONLY, no symlink followed, close-on-exec) and lock
/// it as lock_exclusive does; the lock lasts as long as the descriptor.
Result<UniqueFd> lock_directory(const std::filesystem::path& directory);

/// Claim `file` for `owner` for as long as the returned descriptor is open:
/// create it (mode 0644, never through a symlink) or open it, lock it as
/// lock_exclusive does, then read it. An empty file, or one that names
/// `owner`, is ours; write_owner then puts `owner` in it. EBUSY when another
/// process holds the lock; EEXIST, naming the owner it holds, when the file
/// names another owner.
Result<UniqueFd> claim_file(const std::filesystem::path& file, const std::string& owner);

/// Write `owner` into a file claim_file returned (the same bytes again if it
/// names `owner` already). Apart from claim_file so that a process that stops
/// before it used what it claimed leaves the file unnamed.
Result<void> write_owner(int fd, const std::filesystem::path& file, const std::string& owner);

}  // namespace corral
