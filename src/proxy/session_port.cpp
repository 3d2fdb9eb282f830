#include "corral/proxy/session_port.hpp"

#include <dirent.h>
#include <unistd.h>

#include <set>
#include <string>

#include "corral/net/socket_owner.hpp"

namespace corral {

namespace {

// Open files looked at in all before giving up: a browser has a few
// hundred; a process that holds millions must not stall the proxy.
constexpr size_t kMaxFilesSearched = 200000;

// Remove from `wanted` the sockets among pid's open files.
void find_in_open_files(pid_t pid, std::set<std::string>& wanted, size_t& budget) {
  auto path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return;  // ended meanwhile
  char target[64];
  while (auto* entry = ::readdir(dir)) {
    if (budget == 0 || wanted.empty()) break;
    --budget;
    ssize_t n = ::readlinkat(::dirfd(dir), entry->d_name, target, sizeof target - 1);
    if (n <= 0) continue;
    wanted.erase(std::string(target, static_cast<size_t>(n)));
  }
  ::closedir(dir);
}

}  // namespace

Result<void> check_session_port(uint16_t port, const Cgroup& cgroup, std::optional<uid_t> own_uid) {
  if (!own_uid) return check_listener_in_cgroup(port, cgroup);
  CORRAL_TRY_ASSIGN(auto listeners, listeners_on(port));
  if (listeners.empty()) return Error::make(ECONNREFUSED, "nothing listens on port " + std::to_string(port));
  for (const auto& listener : listeners)
    if (listener.uid != *own_uid)
      return Error::make(EPERM, "port " + std::to_string(port) + " is held by uid " + std::to_string(listener.uid) +
                                    ", a process outside the session");
  return success();
}

Result<void> check_listener_in_cgroup(uint16_t port, const Cgroup& cgroup) {
  CORRAL_TRY_ASSIGN(auto listeners, listeners_on(port));
  if (listeners.empty()) return Error::make(ECONNREFUSED, "nothing listens on port " + std::to_string(port));
  std::set<std::string> wanted;
  for (const auto& listener : listeners) wanted.insert("socket:[" + std::to_string(listener.inode) + "]");
  CORRAL_TRY_ASSIGN(auto pids, cgroup.processes());
  size_t budget = kMaxFilesSearched;
  for (pid_t pid : pids) {
    find_in_open_files(pid, wanted, budget);
    if (wanted.empty()) return success();
  }
  return Error::make(EPERM, "port " + std::to_string(port) + " is held by a process outside the session" +
                                (budget == 0 ? " (or hidden among too many open files)" : ""));
}

}  // namespace corral
