// open_directory_nofollow: open a directory by absolute path without
// following a symbolic link anywhere on the way, as openat2's
// RESOLVE_NO_SYMLINKS would. openat2 itself is not used: under systemd's
// RestrictSUIDSGID= (corrald.service) its seccomp filter answers openat2
// with ENOSYS, since it cannot inspect the flags. So each component is
// opened with openat(O_NOFOLLOW | O_DIRECTORY) relative to the one before.
#pragma once

#include <string>

#include "corral/util/unique_fd.hpp"

namespace corral {

/// An O_RDONLY descriptor of the directory at absolute `path`, or an
/// invalid one (errno set: ELOOP or ENOTDIR for a symlink on the way,
/// EINVAL for a relative path, "." or ".." components, or another open(2)
/// errno).
UniqueFd open_directory_nofollow(const std::string& path);

}  // namespace corral
