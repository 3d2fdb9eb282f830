// Who is on the other end of an API connection. A session's browser runs as
// a uid of its own (launch/uid_pool.hpp) and must not list, open or close
// sessions, token or not: a compromised browser holds nothing that should
// let it. The kernel knows the uid of a local peer: SO_PEERCRED for a unix
// socket, and for TCP the owner of the peer's socket, which sock_diag finds
// by the connection's addresses and ports.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>

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

}  // namespace corral
