#include "corral/util/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral {
namespace fs = std::filesystem;

namespace {

// An owner is a short name; anything longer in the file is not one of ours.
constexpr size_t kMaxOwner = 256;

Result<std::string> read_owner(int fd, const fs::path& file) {
  std::string text(kMaxOwner + 1, '\0');
  ssize_t n;
  do n = ::pread(fd, text.data(), text.size(), 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno(errno, "read '" + file.string() + "'");
  text.resize(static_cast<size_t>(n));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// For messages: what a damaged file holds, without its control bytes.
std::string printable(std::string text) {
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return text;
}

}  // namespace

Result<void> lock_exclusive(int fd, const std::string& what) {
  int r;
  do r = ::flock(fd, LOCK_EX | LOCK_NB);
  while (r < 0 && errno == EINTR);
  if (r == 0) return success();
  if (errno == EWOULDBLOCK) return Error::make(EBUSY, what + " is locked by another process");
  return Error::from_errno(errno, "lock " + what);
}

Result<UniqueFd> lock_directory(const fs::path& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Error::from_errno(errno, "open '" + directory.string() + "'");
  CORRAL_TRY(lock_exclusive(fd.get(), "'" + directory.string() + "'"));
  return fd;
}

Result<UniqueFd> claim_file(const fs::path& file, const std::string& owner) {
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644));
  if (!fd.valid() && errno == ELOOP)
    return Error::make(ELOOP, "'" + file.string() + "' is a symbolic link; not followed");
  if (!fd.valid()) return Error::from_errno(errno, "open '" + file.string() + "'");
  struct stat info {};
  if (::fstat(fd.get(), &info) < 0) return Error::from_errno(errno, "stat '" + file.string() + "'");
  if (!S_ISREG(info.st_mode)) return Error::make(EBADFD, "'" + file.string() + "' is not a regular file");
  CORRAL_TRY(lock_exclusive(fd.get(), "'" + file.string() + "'"));
  // Read only under the lock, which its owner holds while it writes.
  auto held = read_owner(fd.get(), file);
  if (!held) return held.error();
  if (!held->empty() && *held != owner)
    return Error::make(EEXIST, "'" + file.string() + "' says it belongs to '" + printable(*held) + "'");
  return fd;
}

Result<void> write_owner(int fd, const fs::path& file, const std::string& owner) {
  std::string text = owner + "\n";
  ssize_t n;
  do n = ::pwrite(fd, text.data(), text.size(), 0);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(text.size()))
    return Error::from_errno(n < 0 ? errno : EIO, "write '" + file.string() + "'");
  if (::ftruncate(fd, static_cast<off_t>(text.size())) < 0 || ::fsync(fd) < 0)
    return Error::from_errno(errno, "write '" + file.string() + "'");
  return success();
}

}  // namespace corral
