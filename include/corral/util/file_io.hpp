// Whole-file helpers. corrald runs as root and reads files from directories
// a browser session owns (its profile), so every read here is safe against
// what an attacker can plant: a symlink, a FIFO, a huge file.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// read_file's default bound: every file corral reads whole (cgroup and
/// /proc files, DevToolsActivePort, a token) is far smaller.
inline constexpr size_t kMaxReadSize = size_t(1) << 20;

/// Read a whole regular file of at most `max_size` bytes, without following
/// a symbolic link in the last component and without ever blocking (a FIFO
/// or device is refused, not opened for a read that waits). cgroupfs and
/// procfs files are regular files and read as usual. Errors, each naming the
/// path: ENOENT and other open(2) errnos; ELOOP for a symbolic link; EISDIR
/// for a directory; EBADFD for anything else that is not a regular file;
/// EFBIG when the file holds more than `max_size` bytes. `info`, when given,
/// receives the fstat(2) of the file that was read.
Result<std::string> read_file(const std::filesystem::path& path, size_t max_size = kMaxReadSize,
                              struct stat* info = nullptr);

/// The last `bytes` bytes of a regular file (all of it if shorter), with
/// read_file's safety: no symlink followed, nothing but a regular file
/// opened. For the end of a log that may be any size.
Result<std::string> read_file_tail(const std::filesystem::path& path, size_t bytes);

/// What a write_file_atomic must survive besides a reader at any instant.
enum class Durability {
  /// A crash of the writing process: the kernel keeps the page cache, so the
  /// rename alone is atomic and the new content is what the next reader sees.
  process_crash,
  /// The machine losing power too: the data is fsync'ed before the rename
  /// (a few ms on a real disk), or the new name could land on empty blocks.
  power_loss,
};

/// Replace `path` with a file holding `text` and permission bits `mode`, so
/// that a reader, or a crash at any instant, sees the old content or the
/// new, never a mix: a temporary file is created next to it (O_EXCL, never
/// through a symlink), written in full, fsync'ed if `durability` asks, and
/// renamed over `path`. A symlink at `path` is replaced, not followed. On
/// failure the temporary file is removed and `path` is unchanged.
Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& text, mode_t mode,
                               Durability durability = Durability::power_loss);

/// Write `text` with one write(2) call, as cgroupfs expects (no O_CREAT, no
/// O_TRUNC: control files exist already and reject truncation). ELOOP if
/// `path` is a symbolic link.
Result<void> write_control_file(const std::filesystem::path& path, const std::string& text);

/// A file mode's permission bits as in ls and chmod, "0711", for messages.
std::string octal_mode(mode_t mode);

}  // namespace corral
