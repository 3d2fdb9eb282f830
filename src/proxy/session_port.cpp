#include "corral/proxy/session_port.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "corral/util/unique_fd.hpp"

namespace corral {

namespace {

// Open files looked at in all before giving up: a browser has a few
// hundred; a process that holds millions must not stall the proxy.
constexpr size_t kMaxFilesSearched = 200000;

Result<void> send_listener_dump(int netlink, uint8_t family) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  query.request.sdiag_family = family;
  query.request.sdiag_protocol = IPPROTO_TCP;
  query.request.idiag_states = 1U << TCP_LISTEN;
  if (::send(netlink, &query, sizeof query, 0) != static_cast<ssize_t>(sizeof query))
    return Error::from_errno(errno, "sock_diag query");
  return success();
}

// Add the listeners on `port` in one dump's answer; false once the dump is done.
Result<bool> read_dump_part(int netlink, uint16_t port, std::vector<PortListener>& found) {
  alignas(nlmsghdr) char buffer[32768];
  ssize_t n = ::recv(netlink, buffer, sizeof buffer, 0);
  if (n < 0) return Error::from_errno(errno, "sock_diag answer");
  int left = static_cast<int>(n);
  for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
    if (header->nlmsg_type == NLMSG_DONE) return false;
    if (header->nlmsg_type == NLMSG_ERROR) return Error::make(EIO, "sock_diag refused the query");
    auto* socket = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
    if (ntohs(socket->id.idiag_sport) == port) found.push_back({socket->idiag_inode, socket->idiag_uid});
  }
  return true;
}

Result<std::vector<PortListener>> listeners_from_sock_diag(uint16_t port) {
  UniqueFd netlink(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!netlink.valid()) return Error::from_errno(errno, "sock_diag socket");
  std::vector<PortListener> found;
  for (uint8_t family : {AF_INET, AF_INET6}) {
    CORRAL_TRY(send_listener_dump(netlink.get(), family));
    for (;;) {
      CORRAL_TRY_ASSIGN(auto more, read_dump_part(netlink.get(), port, found));
      if (!more) break;
    }
  }
  return found;
}

}  // namespace

// /proc/net/tcp{,6}, for a kernel whose sock_diag has no TCP (no tcp_diag
// module, or one it may not load): "sl local rem st ... uid timeout inode".
Result<std::vector<PortListener>> listeners_from_proc_net(uint16_t port) {
  std::vector<PortListener> found;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream lines(table);
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits;
      unsigned long uid = 0, timeout = 0, inode = 0;
      if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode))
        continue;
      auto colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;  // 0A: TCP_LISTEN
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) == port)
        found.push_back({static_cast<ino_t>(inode), static_cast<uid_t>(uid)});
    }
  }
  return found;
}

namespace {

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

Result<std::vector<PortListener>> listeners_on(uint16_t port) {
  auto found = listeners_from_sock_diag(port);
  if (found) return found;
  return listeners_from_proc_net(port);
}

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
