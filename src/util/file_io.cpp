#include "corral/util/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "corral/util/unique_fd.hpp"

namespace corral {

Result<std::string> read_text_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::from_errno(errno, "open '" + path.string() + "'");
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read '" + path.string() + "'");
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

Result<void> write_control_file(const std::filesystem::path& path, const std::string& text) {
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
