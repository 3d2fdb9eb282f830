#include "corral/util/file_io.hpp"

#include <fcntl.h>
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

}  // namespace

Result<std::string> read_file(const fs::path& path, size_t max_size, struct stat* info) {
  struct stat status {};
  auto fd = open_regular(path, status);
  if (!fd) return fd.error();
  auto text = read_bounded(fd->get(), path, max_size);
  if (text && info) *info = status;
  return text;
}

Result<void> write_control_file(const fs::path& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
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
