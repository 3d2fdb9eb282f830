// open_directory_nofollow: open a directory by absolute path without
// following a symbolic link anywhere on the way, as openat2's
// RESOLVE_NO_SYMLINKS would. openat2 itself is not used: under systemd's
// RestrictSUIDSGID= (corrald.service) its seccomp filter answers openat2
// with ENOSYS, since it cannot inspect the flags. So each component is
// opened with openat(O_NOFOLLOW | O_DIRECTORY) relative to the one before.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <string>

#include "corral/util/unique_fd.hpp"

namespace corral {

/// How corral opens a directory it found by name in a place a session can
/// write: O_NOFOLLOW with O_DIRECTORY fails on a symlink (ELOOP), whatever
/// it points to; O_NONBLOCK and O_NOCTTY: should the name turn into a FIFO
/// or a tty meanwhile, the open neither waits nor adopts it.
inline constexpr int kOpenDirectoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

/// Whether statx(2) says `info` is the root of a mount: a bind mount of the
/// same filesystem included, which st_dev cannot tell.
inline bool is_mount_root(const struct statx& info) {
  return (info.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (info.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/// An O_RDONLY descriptor of the directory at absolute `path`, or an
/// invalid one (errno set: ELOOP or ENOTDIR for a symlink on the way,
/// EINVAL for a relative path, "." or ".." components, or another open(2)
/// errno).
UniqueFd open_directory_nofollow(const std::string& path);

}  // namespace corral
