#include "corral/launch/owned_entries.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "corral/util/open_directory.hpp"
#include "corral/util/remove_tree.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

namespace {

std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

bool mount_root_or_unknown(int fd) {
  struct statx info {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &info) < 0) return true;  // unknown: do not go in
  return is_mount_root(info);
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// Names first, then the work: removing while readdir runs may skip entries.
std::vector<std::string> names_in(int dir) {
  std::vector<std::string> names;
  int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return names;
  std::unique_ptr<DIR, DirCloser> stream(::fdopendir(copy));
  if (!stream) {
    ::close(copy);
    return names;
  }
  ::rewinddir(stream.get());
  while (auto* entry = ::readdir(stream.get())) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  return names;
}

void walk(int dir, const std::string& path, uid_t uid, bool remove, size_t depth, std::vector<std::string>& left) {
  for (const auto& name : names_in(dir)) {
    struct stat info {};
    if (::fstatat(dir, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) < 0) continue;  // gone meanwhile
    auto shown = child_path(path, name);
    if (info.st_uid == uid) {
      if (!remove) {
        left.push_back(shown + " is still there");
      } else if (auto removed = remove_tree_at(dir, name, shown, {.restore_owner_rights = true}); !removed) {
        left.push_back(removed.error().message);
      }
      continue;
    }
    if (!S_ISDIR(info.st_mode) || !(info.st_mode & S_IWOTH) || depth >= kMaxOwnedSweepDepth) continue;
    // Another's world-writable directory; one we cannot read we cannot
    // have listed our names in either, unless discovery found it (then its
    // descriptor was opened as root).
    UniqueFd below(::openat(dir, name.c_str(), kOpenDirectoryFlags));
    if (!below.valid() || mount_root_or_unknown(below.get())) continue;
    walk(below.get(), shown, uid, remove, depth + 1, left);
  }
}

}  // namespace

void remove_owned_entries(int dir, const std::string& path, uid_t uid, std::vector<std::string>& left) {
  walk(dir, path, uid, true, 0, left);
}

void list_owned_entries(int dir, const std::string& path, uid_t uid, std::vector<std::string>& left) {
  walk(dir, path, uid, false, 0, left);
}

}  // namespace corral
