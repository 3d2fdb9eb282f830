#include "corral/net/socket_owner.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>

#include "corral/util/file_io.hpp"

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

// The owner of the socket whose source is `peer` and destination `local`:
// the client's end of our connection.
std::optional<uid_t> tcp_owner(const sockaddr_storage& peer, const sockaddr_storage& local) {
  UniqueFd netlink(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!netlink.valid()) return std::nullopt;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = static_cast<__u8>(peer.ss_family);
  query.request.sdiag_protocol = IPPROTO_TCP;
  query.request.idiag_states = ~0U;
  fill_end(peer, query.request.id.idiag_sport, query.request.id.idiag_src);
  fill_end(local, query.request.id.idiag_dport, query.request.id.idiag_dst);
  query.request.id.idiag_cookie[0] = query.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (::send(netlink.get(), &query, sizeof query, 0) != sizeof query) return std::nullopt;
  alignas(nlmsghdr) char answer[8192];
  ssize_t n = ::recv(netlink.get(), answer, sizeof answer, 0);
  auto* header = reinterpret_cast<nlmsghdr*>(answer);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(inet_diag_msg))) || header->nlmsg_type != SOCK_DIAG_BY_FAMILY)
    return std::nullopt;  // NLMSG_ERROR: no such socket here (a remote peer)
  return static_cast<const inet_diag_msg*>(NLMSG_DATA(header))->idiag_uid;
}

// An address as /proc/net/tcp{,6} prints it: each 32-bit word of the
// address as the kernel holds it, in hex, then the port.
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

// The same answer from /proc/net/tcp, for kernels without the tcp_diag
// module (it loads on demand; a host may lack it or forbid loading it).
std::optional<uid_t> tcp_owner_from_proc(const sockaddr_storage& peer, const sockaddr_storage& local) {
  auto table = read_file(peer.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", size_t(64) << 20);
  if (!table) return std::nullopt;
  std::string want_local = proc_net_address(peer), want_remote = proc_net_address(local);
  std::istringstream lines(*table);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local_address, remote_address, state, queues, timer, retransmits;
    uid_t uid;
    if (fields >> slot >> local_address >> remote_address >> state >> queues >> timer >> retransmits >> uid &&
        local_address == want_local && remote_address == want_remote)
      return uid;
  }
  return std::nullopt;
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

}  // namespace

std::optional<uid_t> peer_uid_from_proc_net(int fd) {
  sockaddr_storage peer{}, local{};
  if (!tcp_ends(fd, peer, local)) return std::nullopt;
  return tcp_owner_from_proc(peer, local);
}

std::optional<uid_t> peer_uid(int fd) {
  sockaddr_storage peer{}, local{};
  socklen_t peer_length = sizeof peer, local_length = sizeof local;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) < 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) < 0)
    return std::nullopt;
  if (peer.ss_family == AF_UNIX) {
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0) return std::nullopt;
    return credentials.uid;
  }
  unmap_v4(peer);
  unmap_v4(local);
  if (peer.ss_family != local.ss_family) return std::nullopt;
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

}  // namespace corral
