#include "corral/launch/writable_dirs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <set>
#include <sstream>

#include "corral/util/file_io.hpp"
#include "corral/util/open_directory.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {
using namespace std::chrono;

namespace {

// Filesystems that hold no files a session could leave: the kernel's views
// and controls. Message queues (mqueue) are swept on their own.
const std::set<std::string> kPseudoFilesystems = {
    "proc",      "sysfs",     "cgroup",   "cgroup2",   "devpts",     "mqueue", "debugfs",
    "tracefs",   "securityfs", "pstore",  "bpf",       "configfs",   "fusectl", "binfmt_misc",
    "autofs",    "efivarfs",  "selinuxfs", "nsfs",     "rpc_pipefs", "hugetlbfs"};

// "\040" in a mountinfo path is a space, and so on.
std::string unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && std::isdigit(field[i + 1]) && std::isdigit(field[i + 2]) &&
        std::isdigit(field[i + 3])) {
      out.push_back(static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

bool read_only(const std::string& options) {
  std::istringstream list(options);
  for (std::string option; std::getline(list, option, ',');)
    if (option == "ro") return true;
  return false;
}

std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

struct Pending {
  std::string path;
  size_t depth;
};

class Walk {
 public:
  Walk(const DiscoveryLimits& limits, const std::function<bool(uid_t)>& skip_owner)
      : m_limits(limits), m_skip_owner(skip_owner), m_start(steady_clock::now()) {}

  WritableDirs run(const std::vector<std::string>& mounts) {
    for (const auto& mount : mounts) m_queue.push_back({mount, 0});
    m_found.mounts = mounts;
    while (!m_queue.empty() && within_bounds()) {
      auto next = std::move(m_queue.front());
      m_queue.pop_front();
      visit(next);
    }
    m_found.took = duration_cast<milliseconds>(steady_clock::now() - m_start);
    m_found.at = steady_clock::now();
    return std::move(m_found);
  }

 private:
  bool within_bounds() {
    if (m_found.directories_read >= m_limits.max_directories)
      m_found.incomplete = "stopped after " + std::to_string(m_limits.max_directories) + " directories";
    else if (steady_clock::now() - m_start > m_limits.max_time)
      m_found.incomplete = "stopped after " + std::to_string(m_limits.max_time.count()) + " ms";
    return m_found.incomplete.empty();
  }

  void visit(const Pending& dir) {
    auto fd = open_directory_nofollow(dir.path);  // a session could swap a symlink in
    if (!fd.valid()) return;  // gone, not a directory any more, or a symlink: nothing to walk
    struct statx info {};
    if (::statx(fd.get(), "", AT_EMPTY_PATH, STATX_MODE | STATX_UID, &info) < 0) return;
    // Below a mount point, another mount's root is walked as its own mount
    // (if a session can write to it at all).
    if (dir.depth > 0 && is_mount_root(info)) return;
    if (dir.depth > 0 && m_skip_owner && m_skip_owner(info.stx_uid)) return;
    if (info.stx_mode & S_IWOTH) m_found.dirs.push_back(dir.path);
    ++m_found.directories_read;
    if (dir.depth >= m_limits.max_depth) return;
    DIR* stream = ::fdopendir(fd.get());
    if (!stream) return;
    fd.release();  // the stream owns it now
    while (auto* entry = ::readdir(stream)) {
      std::string name = entry->d_name;
      if (name == "." || name == ".." || (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN)) continue;
      // A session's own directories are left out before they take room
      // in the queue: a session could make millions of them.
      struct stat child {};
      if (::fstatat(::dirfd(stream), name.c_str(), &child, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(child.st_mode)) continue;
      if (m_skip_owner && m_skip_owner(child.st_uid)) continue;
      if (m_queue.size() >= m_limits.max_directories) break;  // within_bounds stops the walk soon
      m_queue.push_back({child_path(dir.path, name), dir.depth + 1});
    }
    ::closedir(stream);
  }

  const DiscoveryLimits& m_limits;
  const std::function<bool(uid_t)>& m_skip_owner;
  steady_clock::time_point m_start;
  std::deque<Pending> m_queue;
  WritableDirs m_found;
};

}  // namespace

std::vector<std::string> writable_mount_points(const std::string& mountinfo) {
  std::vector<std::string> mounts;
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::istringstream fields(line);
    std::vector<std::string> columns;
    for (std::string field; fields >> field;) columns.push_back(field);
    auto dash = std::find(columns.begin(), columns.end(), "-");
    if (columns.size() < 6 || dash == columns.end() || dash + 1 == columns.end()) continue;
    const std::string& fstype = *(dash + 1);
    std::string super_options = dash + 3 < columns.end() ? *(dash + 3) : "";
    if (kPseudoFilesystems.count(fstype) || read_only(columns[5]) || read_only(super_options)) continue;
    auto point = unescape(columns[4]);
    if (std::find(mounts.begin(), mounts.end(), point) == mounts.end()) mounts.push_back(point);
  }
  return mounts;
}

WritableDirs discover_writable_dirs(const std::vector<std::string>& mounts, const DiscoveryLimits& limits,
                                    const std::function<bool(uid_t)>& skip_owner) {
  return Walk(limits, skip_owner).run(mounts);
}

WritableDirs discover_writable_dirs(const DiscoveryLimits& limits, const std::function<bool(uid_t)>& skip_owner) {
  auto mountinfo = read_file("/proc/self/mountinfo");
  if (!mountinfo) {
    WritableDirs none;
    none.incomplete = "cannot read /proc/self/mountinfo: " + mountinfo.error().message;
    none.at = steady_clock::now();
    return none;
  }
  return discover_writable_dirs(writable_mount_points(*mountinfo), limits, skip_owner);
}

}  // namespace corral
