#include "corral/util/remove_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corral/util/open_directory.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {
namespace fs = std::filesystem;

namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// A directory being emptied: its stream, and its name in the one above.
struct Level {
  std::unique_ptr<DIR, DirCloser> stream;
  std::string name;
};

// Empties and removes one tree below an open parent. Depth-first with an
// explicit stack, not recursion, so depth costs memory, not call frames.
class TreeRemover {
 public:
  TreeRemover(int parent, fs::path top, RemoveTreeOptions options)
      : m_parent(parent), m_top(std::move(top)), m_options(options) {}

  Result<void> remove(const std::string& name) {
    struct stat parent {};
    if (::fstat(m_parent, &parent) < 0) return Error::from_errno(errno, "stat '" + m_top.parent_path().string() + "'");
    m_device = parent.st_dev;
    enter(m_parent, name);
    while (!m_stack.empty()) step();
    if (m_first_error) return *m_first_error;
    return success();
  }

 private:
  int current() const { return m_stack.empty() ? m_parent : ::dirfd(m_stack.back().stream.get()); }

  // Paths for messages only: every call works on descriptors.
  fs::path current_path() const {
    fs::path path = m_top.parent_path();
    for (const auto& level : m_stack) path /= level.name;
    return path;
  }
  fs::path where(const std::string& name) const { return current_path() / name; }

  void note(Error error) {
    if (!m_first_error) m_first_error = std::move(error);
  }

  void enter(int at, const std::string& name);
  bool restore_owner_rights(int at, const std::string& name);
  void restore_owner_rights(int fd);
  bool same_filesystem(int fd, const std::string& name);
  void unlink_entry(int at, const std::string& name);
  void unlink_non_directory(int at, const std::string& name);
  void step();
  void finish_level();

  int m_parent;
  fs::path m_top;
  RemoveTreeOptions m_options;
  dev_t m_device = 0;
  std::vector<Level> m_stack;
  std::optional<Error> m_first_error;
};

void TreeRemover::enter(int at, const std::string& name) {
  UniqueFd fd(::openat(at, name.c_str(), kOpenDirectoryFlags));
  // Our own directory that we may not read: its owner may give itself the
  // rights back, once.
  if (!fd.valid() && errno == EACCES && restore_owner_rights(at, name))
    fd = UniqueFd(::openat(at, name.c_str(), kOpenDirectoryFlags));
  if (!fd.valid()) {
    // Not a directory (any more): a symlink, or something swapped in since
    // readdir. Unlinking a name never touches what it points to.
    if (errno == ELOOP || errno == ENOTDIR) return unlink_non_directory(at, name);
    if (errno != ENOENT) note(Error::from_errno(errno, "open '" + where(name).string() + "'"));
    return;
  }
  if (!same_filesystem(fd.get(), name)) return;
  restore_owner_rights(fd.get());  // readable, but perhaps not writable: its entries could not go
  if (m_stack.size() > kMaxRemoveDepth)
    return note(Error::make(ELOOP, "'" + where(name).string() + "' is nested more than " +
                                       std::to_string(kMaxRemoveDepth) + " directories deep; left in place"));
  DIR* stream = ::fdopendir(fd.get());
  if (!stream) return note(Error::from_errno(errno, "read '" + where(name).string() + "'"));
  fd.release();  // the stream owns it now
  m_stack.push_back(Level{std::unique_ptr<DIR, DirCloser>(stream), name});
}

// AT_SYMLINK_NOFOLLOW: a symlink swapped in for the directory is refused
// (EOPNOTSUPP), not followed. chmod succeeds only for the owner.
bool TreeRemover::restore_owner_rights(int at, const std::string& name) {
  if (!m_options.restore_owner_rights) return false;
  return ::fchmodat(at, name.c_str(), S_IRWXU, AT_SYMLINK_NOFOLLOW) == 0;
}

void TreeRemover::restore_owner_rights(int fd) {
  if (!m_options.restore_owner_rights) return;
  struct stat info {};
  if (::fstat(fd, &info) == 0 && info.st_uid == ::geteuid() && (info.st_mode & S_IRWXU) != S_IRWXU)
    (void)::fchmod(fd, (info.st_mode & 07777) | S_IRWXU);
}

// Emptying a mount point would reach into another filesystem, and its
// rmdir would fail with EBUSY anyway. statx also tells a bind mount of the
// same filesystem, which st_dev cannot.
bool TreeRemover::same_filesystem(int fd, const std::string& name) {
  struct statx info {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &info) < 0) {
    note(Error::from_errno(errno, "stat '" + where(name).string() + "'"));
    return false;
  }
  if (makedev(info.stx_dev_major, info.stx_dev_minor) == m_device && !is_mount_root(info)) return true;
  note(Error::make(EXDEV, "'" + where(name).string() + "' is a mount point; left in place"));
  return false;
}

// readdir's type says not a directory; if that changed since (EISDIR),
// treat it as one.
void TreeRemover::unlink_entry(int at, const std::string& name) {
  if (::unlinkat(at, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno == EISDIR) return enter(at, name);
  note(Error::from_errno(errno, "unlink '" + where(name).string() + "'"));
}

// After openat said "not a directory": one unlink, and no retry as a
// directory, so a name that keeps changing type cannot keep us going.
void TreeRemover::unlink_non_directory(int at, const std::string& name) {
  if (::unlinkat(at, name.c_str(), 0) == 0 || errno == ENOENT) return;
  note(Error::from_errno(errno, "unlink '" + where(name).string() + "'"));
}

void TreeRemover::step() {
  DIR* stream = m_stack.back().stream.get();
  errno = 0;
  const dirent* entry = ::readdir(stream);
  if (!entry) {
    if (errno != 0) note(Error::from_errno(errno, "read '" + current_path().string() + "'"));
    return finish_level();
  }
  std::string name = entry->d_name;
  if (name == "." || name == "..") return;
  // DT_UNKNOWN (some filesystems): openat decides, and unlinks a non-directory.
  if (entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN) return enter(::dirfd(stream), name);
  unlink_entry(::dirfd(stream), name);
}

// The directory is empty (or as empty as it gets): close it, then remove it
// by name from the one above. ENOTDIR: a symlink took its name meanwhile.
void TreeRemover::finish_level() {
  std::string name = std::move(m_stack.back().name);
  m_stack.pop_back();
  if (::unlinkat(current(), name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
  note(Error::from_errno(errno, "rmdir '" + where(name).string() + "'"));
}

}  // namespace

Result<void> remove_tree(const fs::path& dir) {
  fs::path top = dir.lexically_normal();
  if (!top.has_filename() && top.has_parent_path() && top != top.root_path()) top = top.parent_path();  // "a/b/"
  std::string name = top.filename().string();
  if (name.empty() || name == "." || name == "..")
    return Error::make(EINVAL, "remove '" + dir.string() + "': no directory name to remove");
  fs::path parent = top.has_parent_path() ? top.parent_path() : fs::path(".");
  UniqueFd parent_fd(::open(parent.c_str(), kOpenDirectoryFlags));
  if (!parent_fd.valid() && errno == ENOENT) return success();
  if (!parent_fd.valid()) return Error::from_errno(errno, "open '" + parent.string() + "'");
  return TreeRemover(parent_fd.get(), top, {}).remove(name);
}

Result<void> remove_tree_at(int parent, const std::string& name, const fs::path& shown_as, RemoveTreeOptions options) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Error::make(EINVAL, "remove '" + shown_as.string() + "': no directory name to remove");
  return TreeRemover(parent, shown_as, options).remove(name);
}

}  // namespace corral
