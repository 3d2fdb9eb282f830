#include "corral/cgroup/paths.hpp"

#include <sstream>
#include <vector>

#include "corral/util/file_io.hpp"

namespace corral {
namespace {

// Some 150 bytes a mount, and a container host can have thousands: room
// for a hundred thousand, past read_file's default bound.
constexpr size_t kMaxMountinfo = size_t(16) << 20;

}  // namespace

Result<std::filesystem::path> find_cgroup2_mount(const std::string& mountinfo) {
  // Fields: id parent major:minor root mountpoint options [optional...] - fstype source super
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    for (size_t i = 6; i + 1 < words.size(); ++i)
      if (words[i] == "-" && words[i + 1] == "cgroup2") return std::filesystem::path(words[4]);
  }
  return Error::make(ENOENT, "no cgroup2 filesystem is mounted (corral needs cgroup v2)");
}

Result<std::string> find_unified_cgroup(const std::string& proc_cgroup) {
  std::istringstream lines(proc_cgroup);
  std::string line;
  while (std::getline(lines, line))
    if (line.starts_with("0::")) return line.substr(3);
  return Error::make(ENOENT, "no cgroup v2 entry (0::) in /proc/PID/cgroup");
}

Result<std::filesystem::path> cgroup2_mount() {
  auto mountinfo = read_file("/proc/self/mountinfo", kMaxMountinfo);
  if (!mountinfo) return mountinfo.error();
  return find_cgroup2_mount(*mountinfo);
}

Result<std::string> cgroup_of_process(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  if (!text) return text.error();
  return find_unified_cgroup(*text);
}

}  // namespace corral
