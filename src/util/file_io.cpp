#include "corral/util/file_io.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdio>

#include "corral/util/unique_fd.hpp"

namespace corral {
namespace fs = std::filesystem;

namespace {

const char* file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// O_NOFOLLOW: a symlink planted at `path` fails with ELOOP instead of
// letting root read whatever it points to. O_NONBLOCK: opening a FIFO for
// reading would wait for a writer; the fstat check below then refuses it.
Result<UniqueFd> open_regular(const fs::path& path, struct stat& info) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid() && errno == ELOOP)
    return Error::make(ELOOP, "'" + path.string() + "' is a symbolic link; not followed");
  if (!fd.valid()) return Error::from_errno(errno, "open '" + path.string() + "'");
  if (::fstat(fd.get(), &info) < 0) return Error::from_errno(errno, "stat '" + path.string() + "'");
  if (!S_ISREG(info.st_mode))
    return Error::make(S_ISDIR(info.st_mode) ? EISDIR : EBADFD,
                       "'" + path.string() + "' is " + file_type(info.st_mode) + ", not a regular file");
  return fd;
}

// st_size is no bound: procfs and cgroupfs files report 0 or 4096 whatever
// they hold, and a file can grow while we read. So read until EOF, and stop
// once there is one byte more than allowed.
Result<std::string> read_bounded(int fd, const fs::path& path, size_t max_size) {
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read '" + path.string() + "'");
    if (n == 0) return text;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_size)
      return Error::make(EFBIG, "'" + path.string() + "' is larger than " + std::to_string(max_size) + " bytes");
  }
}

Result<void> write_all(int fd, const std::string& text, const fs::path& path) {
  for (size_t written = 0; written < text.size();) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "write '" + path.string() + "'");
    written += static_cast<size_t>(n);
  }
  return success();
}

// "<dir>/.<name>.<16 random hex digits>": hidden, in the same directory (so
// rename(2) stays on one filesystem), and not guessable in advance.
fs::path temporary_name(const fs::path& path) {
  unsigned char bytes[8] = {};
  (void)!::getrandom(bytes, sizeof bytes, 0);
  char suffix[2 * sizeof bytes + 1];
  for (size_t i = 0; i < sizeof bytes; ++i) std::snprintf(suffix + 2 * i, 3, "%02x", bytes[i]);
  return path.parent_path() / ("." + path.filename().string() + "." + suffix);
}

// O_EXCL makes the create fail on anything already there, a symlink
// included, so a planted name is never written through; try another name.
Result<UniqueFd> create_temporary(const fs::path& path, fs::path& temporary) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    temporary = temporary_name(path);
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
    if (fd.valid()) return fd;
    if (errno != EEXIST) return Error::from_errno(errno, "create '" + temporary.string() + "'");
  }
  return Error::make(EEXIST, "no free temporary name next to '" + path.string() + "'");
}

Result<void> fill_temporary(int fd, const std::string& text, mode_t mode, const fs::path& temporary,
                            Durability durability) {
  CORRAL_TRY(write_all(fd, text, temporary));
  // fchmod, not the open mode: the umask must not change what was asked for.
  if (::fchmod(fd, mode) < 0) return Error::from_errno(errno, "chmod '" + temporary.string() + "'");
  // Before the rename: a power loss must not leave the new name on empty blocks.
  if (durability == Durability::power_loss && ::fsync(fd) < 0)
    return Error::from_errno(errno, "fsync '" + temporary.string() + "'");
  return success();
}

}  // namespace

Result<std::string> read_file(const fs::path& path, size_t max_size, struct stat* info) {
  struct stat status {};
  auto fd = open_regular(path, status);
  if (!fd) return fd.error();
  auto text = read_bounded(fd->get(), path, max_size);
  if (text && info) *info = status;
  return text;
}

Result<std::string> read_file_tail(const fs::path& path, size_t bytes) {
  struct stat status {};
  auto fd = open_regular(path, status);
  if (!fd) return fd.error();
  off_t size = status.st_size;
  off_t start = size > static_cast<off_t>(bytes) ? size - static_cast<off_t>(bytes) : 0;
  if (::lseek(fd->get(), start, SEEK_SET) < 0) return Error::from_errno(errno, "seek '" + path.string() + "'");
  // The file may have grown since fstat: the bound keeps the read short.
  auto tail = read_bounded(fd->get(), path, bytes + 4096);
  if (!tail) return tail.error();
  return tail->size() > bytes ? tail->substr(tail->size() - bytes) : *tail;
}

Result<void> write_file_atomic(const fs::path& path, const std::string& text, mode_t mode, Durability durability) {
  fs::path temporary;
  auto fd = create_temporary(path, temporary);
  if (!fd) return fd.error();
  auto filled = fill_temporary(fd->get(), text, mode, temporary, durability);
  fd->reset();
  // rename(2) replaces `path` itself, even a symlink, in one step.
  if (filled && ::rename(temporary.c_str(), path.c_str()) < 0)
    filled = Error::from_errno(errno, "rename '" + temporary.string() + "' to '" + path.string() + "'");
  if (!filled) ::unlink(temporary.c_str());
  return filled;
}

Result<void> write_control_file(const fs::path& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd.valid()) return Error::from_errno(errno, "open '" + path.string() + "'");
  ssize_t n;
  do n = ::write(fd.get(), text.data(), text.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno(errno, "write '" + path.string() + "'");
  if (static_cast<size_t>(n) != text.size())
    return Error::make(EIO, "short write to '" + path.string() + "'");
  return success();
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace corral
