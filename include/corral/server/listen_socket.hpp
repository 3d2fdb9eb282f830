// The socket corrald's API listens on: bound before the server runs, and,
// for a unix socket, the socket file, which it owns until shutdown.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "corral/util/error.hpp"
#include "corral/server/listen_address.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// Mode of the API's unix socket: connecting needs write permission, so an
/// operator can let a group in (chgrp the socket or its directory).
inline constexpr mode_t kUnixSocketMode = 0660;

class ListenSocket {
 public:
  ListenSocket(UniqueFd fd, std::string url, std::filesystem::path unix_path, dev_t device, ino_t inode,
               bool replaced_stale, std::optional<ListenAddress> bound = std::nullopt);
  ListenSocket(ListenSocket&& other) noexcept;
  ListenSocket& operator=(ListenSocket&&) = delete;
  ~ListenSocket() { remove_file(); }

  /// "http://127.0.0.1:8420" (the port the kernel picked, for port 0) or
  /// "unix:/run/corral/api.sock".
  const std::string& url() const { return m_url; }
  /// True for a unix socket.
  bool is_unix() const { return m_is_unix; }
  /// TCP: the address and port bound, the host as a numeric address (also
  /// when --listen named a host); nullopt for a unix socket.
  const std::optional<ListenAddress>& bound() const { return m_bound; }
  /// The listening socket, for the server to accept on (once).
  UniqueFd take_fd() { return std::move(m_fd); }
  /// True if a socket file of an earlier run was removed to bind this one.
  bool replaced_stale() const { return m_replaced_stale; }
  /// Remove the unix socket file, if it is still the one bound here. Call
  /// after the server stopped; the destructor does it too.
  void remove_file();

 private:
  UniqueFd m_fd;
  std::string m_url;
  bool m_is_unix = false;
  std::filesystem::path m_unix_path;  ///< empty for TCP, and once removed
  dev_t m_device = 0;
  ino_t m_inode = 0;
  bool m_replaced_stale = false;
  std::optional<ListenAddress> m_bound;
};

/// A socket bound to `address` and listening (close-on-exec).
/// A unix socket path may hold a socket left by an earlier run: it is
/// removed only if it is a socket that no process listens on. Errors:
/// EEXIST (the path is not a socket), EADDRINUSE (a process listens there),
/// ENOENT (no such directory), or the errno of socket/bind/listen.
Result<ListenSocket> bind_listen_socket(const ListenAddress& address);

}  // namespace corral
