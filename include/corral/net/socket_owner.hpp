// Who owns a socket, asked of the kernel: sock_diag, or /proc/net/tcp{,6}
// where sock_diag has no TCP. Two questions, one way of asking:
//  - whose is the other end of a connection (peer_uid)? A session's
//    browser runs as a uid of its own (launch/uid_pool.hpp) and must not
//    list, open or close sessions, token or not: a compromised browser
//    holds nothing that should let it. SO_PEERCRED answers for a unix
//    socket; for TCP, the owner of the peer's socket, found by the
//    connection's addresses and ports.
//  - who listens on a port (listeners_on)? A browser's DevTools port may be
//    held by a stranger by the time corral connects (proxy/session_port.hpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

/// The uid that owns the other end of connected socket `fd`, when that end
/// is on this host (in this network namespace); nullopt for a remote peer
/// or one the kernel cannot name (the socket closed meanwhile).
std::optional<uid_t> peer_uid(int fd);

/// peer_uid for TCP from /proc/net/tcp{,6}, which peer_uid falls back to
/// where sock_diag cannot answer (a kernel without the tcp_diag module, or
/// one that may not load it).
std::optional<uid_t> peer_uid_from_proc_net(int fd);

/// "127.0.0.1", "::1" (the peer's address), "unix", or "" if unknown.
std::string peer_address(int fd);

/// The peer of one connection, asked of the kernel at most once. Shared by
/// the connection and the requests it serves; forget() when the socket
/// closes, so that a late question gets nullopt, not another socket's peer.
class ConnectionPeer {
 public:
  explicit ConnectionPeer(int fd) : m_fd(fd) {}
  std::optional<uid_t> uid();
  void forget();

 private:
  std::mutex m_mutex;
  int m_fd;
  std::optional<std::optional<uid_t>> m_uid;
};

/// A TCP socket listening on a port.
struct PortListener {
  ino_t inode;
  uid_t uid;  ///< its owner
};

/// Every TCP socket (IPv4 and IPv6, any local address) listening on
/// `port`: from sock_diag, else from /proc/net/tcp{,6}.
Result<std::vector<PortListener>> listeners_on(uint16_t port);
/// The same from /proc/net/tcp{,6} alone.
Result<std::vector<PortListener>> listeners_from_proc_net(uint16_t port);

}  // namespace corral
