#include "corral/net/socket_owner.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "corral/util/unique_fd.hpp"

namespace corral {
namespace {

// ::ffff:a.b.c.d on an IPv6 socket is an IPv4 peer; sock_diag files its
// socket under AF_INET.
void unmap_v4(sockaddr_storage& address) {
  if (address.ss_family != AF_INET6) return;
  auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
  if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return;
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = v6.sin6_port;
  std::memcpy(&v4.sin_addr, &v6.sin6_addr.s6_addr[12], 4);
  std::memcpy(&address, &v4, sizeof v4);
}

void fill_end(const sockaddr_storage& address, __be16& port, __be32 (&bytes)[4]) {
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    port = v4.sin_port;
    std::memcpy(bytes, &v4.sin_addr, 4);
  } else {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    port = v6.sin6_port;
    std::memcpy(bytes, &v6.sin6_addr, 16);
  }
}

// --- sock_diag: the kernel's own answer ---

using EachDiagSocket = std::function<void(const inet_diag_msg&)>;

// Pass each socket in one part of sock_diag's answer to `each`; false once
// the answer is done (NLMSG_DONE ends a dump).
Result<bool> read_diag_part(int netlink, const EachDiagSocket& each) {
  alignas(nlmsghdr) char buffer[32768];
  ssize_t n = ::recv(netlink, buffer, sizeof buffer, 0);
  if (n < 0) return Error::from_errno(errno, "sock_diag answer");
  int left = static_cast<int>(n);
  for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
    if (header->nlmsg_type == NLMSG_DONE) return false;
    // For a lookup by addresses: no such socket here (a remote peer).
    if (header->nlmsg_type == NLMSG_ERROR) return Error::make(EIO, "sock_diag refused the query");
    if (header->nlmsg_type == SOCK_DIAG_BY_FAMILY && header->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg)))
      each(*static_cast<const inet_diag_msg*>(NLMSG_DATA(header)));
  }
  return true;
}

// Ask sock_diag about TCP sockets: every one `request` matches when `dump`
// (answered in parts, until NLMSG_DONE), else the one socket its addresses
// name (answered at once). EIO: the kernel refused or has no such socket.
Result<void> ask_sock_diag(const inet_diag_req_v2& request, bool dump, const EachDiagSocket& each) {
  UniqueFd netlink(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!netlink.valid()) return Error::from_errno(errno, "sock_diag socket");
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
  query.request = request;
  query.request.sdiag_protocol = IPPROTO_TCP;
  if (::send(netlink.get(), &query, sizeof query, 0) != static_cast<ssize_t>(sizeof query))
    return Error::from_errno(errno, "sock_diag query");
  for (;;) {
    CORRAL_TRY_ASSIGN(bool more, read_diag_part(netlink.get(), each));
    if (!more || !dump) return success();
  }
}

// --- /proc/net/tcp{,6}: the same, for kernels without the tcp_diag module
// (it loads on demand; a host may lack it or forbid loading it) ---

// One line of a table: "sl local rem st queues timer retransmits uid
// timeout inode ...", each address as the kernel holds its 32-bit words,
// in hex, then ":" and the port in hex.
struct ProcNetSocket {
  std::string local, remote;
  unsigned long state = 0, uid = 0, inode = 0;
};

// Each socket of /proc/net/tcp, or tcp6 for `family` AF_INET6; none when
// the table is missing (IPv6 off).
void each_proc_net_socket(int family, const std::function<void(const ProcNetSocket&)>& each) {
  std::ifstream lines(family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6");
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, state, queues, timer, retransmits;
    ProcNetSocket socket;
    unsigned long timeout = 0;
    if (!(fields >> slot >> socket.local >> socket.remote >> state >> queues >> timer >> retransmits >> socket.uid >>
          timeout >> socket.inode))
      continue;
    socket.state = std::strtoul(state.c_str(), nullptr, 16);
    each(socket);
  }
}

// An address as /proc/net/tcp{,6} prints it.
std::string proc_net_address(const sockaddr_storage& address) {
  __be16 port = 0;
  __be32 words[4] = {};
  fill_end(address, port, words);
  char text[64];
  if (address.ss_family == AF_INET)
    std::snprintf(text, sizeof text, "%08X:%04X", words[0], ntohs(port));
  else
    std::snprintf(text, sizeof text, "%08X%08X%08X%08X:%04X", words[0], words[1], words[2], words[3], ntohs(port));
  return text;
}

// --- whose is the other end of a connection ---

// The owner of the socket whose source is `peer` and destination `local`:
// the client's end of our connection.
std::optional<uid_t> tcp_owner(const sockaddr_storage& peer, const sockaddr_storage& local) {
  inet_diag_req_v2 request{};
  request.sdiag_family = static_cast<__u8>(peer.ss_family);
  request.idiag_states = ~0U;
  fill_end(peer, request.id.idiag_sport, request.id.idiag_src);
  fill_end(local, request.id.idiag_dport, request.id.idiag_dst);
  request.id.idiag_cookie[0] = request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  std::optional<uid_t> owner;
  if (!ask_sock_diag(request, false, [&](const inet_diag_msg& socket) { owner = socket.idiag_uid; })) return std::nullopt;
  return owner;
}

std::optional<uid_t> tcp_owner_from_proc(const sockaddr_storage& peer, const sockaddr_storage& local) {
  std::string want_local = proc_net_address(peer), want_remote = proc_net_address(local);
  std::optional<uid_t> owner;
  each_proc_net_socket(peer.ss_family, [&](const ProcNetSocket& socket) {
    if (!owner && socket.local == want_local && socket.remote == want_remote) owner = static_cast<uid_t>(socket.uid);
  });
  return owner;
}

// The two ends of a TCP connection, as sock_diag and /proc/net file them.
bool tcp_ends(int fd, sockaddr_storage& peer, sockaddr_storage& local) {
  socklen_t peer_length = sizeof peer, local_length = sizeof local;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) < 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) < 0)
    return false;
  unmap_v4(peer);
  unmap_v4(local);
  return peer.ss_family == local.ss_family && (peer.ss_family == AF_INET || peer.ss_family == AF_INET6);
}

std::optional<uid_t> unix_peer_uid(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0) return std::nullopt;
  return credentials.uid;
}

bool is_unix_socket(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 && address.ss_family == AF_UNIX;
}

// --- who listens on a port ---

Result<std::vector<PortListener>> listeners_from_sock_diag(uint16_t port) {
  std::vector<PortListener> found;
  for (uint8_t family : {AF_INET, AF_INET6}) {
    inet_diag_req_v2 request{};
    request.sdiag_family = family;
    request.idiag_states = 1U << TCP_LISTEN;
    CORRAL_TRY(ask_sock_diag(request, true, [&](const inet_diag_msg& socket) {
      if (ntohs(socket.id.idiag_sport) == port) found.push_back({socket.idiag_inode, socket.idiag_uid});
    }));
  }
  return found;
}

}  // namespace

std::optional<uid_t> peer_uid_from_proc_net(int fd) {
  sockaddr_storage peer{}, local{};
  if (!tcp_ends(fd, peer, local)) return std::nullopt;
  return tcp_owner_from_proc(peer, local);
}

std::optional<uid_t> peer_uid(int fd) {
  if (is_unix_socket(fd)) return unix_peer_uid(fd);
  sockaddr_storage peer{}, local{};
  if (!tcp_ends(fd, peer, local)) return std::nullopt;
  if (auto owner = tcp_owner(peer, local)) return owner;
  return tcp_owner_from_proc(peer, local);
}

std::string peer_address(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) return "";
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  else if (address.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text, sizeof text);
  else
    return address.ss_family == AF_UNIX ? "unix" : "";
  return text;
}

std::optional<uid_t> ConnectionPeer::uid() {
  std::lock_guard lock(m_mutex);
  if (!m_uid) m_uid = m_fd >= 0 ? peer_uid(m_fd) : std::nullopt;
  return *m_uid;
}

void ConnectionPeer::forget() {
  std::lock_guard lock(m_mutex);
  m_fd = -1;
}

Result<std::vector<PortListener>> listeners_from_proc_net(uint16_t port) {
  std::vector<PortListener> found;
  for (int family : {AF_INET, AF_INET6})
    each_proc_net_socket(family, [&](const ProcNetSocket& socket) {
      auto colon = socket.local.rfind(':');
      if (socket.state != TCP_LISTEN || colon == std::string::npos) return;
      if (std::strtoul(socket.local.c_str() + colon + 1, nullptr, 16) == port)
        found.push_back({static_cast<ino_t>(socket.inode), static_cast<uid_t>(socket.uid)});
    });
  return found;
}

Result<std::vector<PortListener>> listeners_on(uint16_t port) {
  auto found = listeners_from_sock_diag(port);
  if (found) return found;
  return listeners_from_proc_net(port);
}

}  // namespace corral
