// Where corrald serves its API, from --listen: a TCP host and port
// ("127.0.0.1:8420", "[::1]:8420") or a unix socket ("unix:/run/corral/api.sock").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "corral/util/error.hpp"

namespace corral {

struct ListenAddress {
  std::string host;                  ///< TCP: a name or a literal address, without brackets
  uint16_t port = 0;                 ///< TCP: 0 picks a free port
  std::filesystem::path unix_path;   ///< unix socket: absolute path; empty for TCP

  bool is_unix() const { return !unix_path.empty(); }
  /// "127.0.0.1:8420", "[::1]:8420" or "unix:/run/corral/api.sock".
  std::string describe() const;
};

/// Longest unix socket path bind(2) takes (sun_path less its NUL).
inline constexpr size_t kMaxUnixSocketPath = 107;

/// Parse --listen. EINVAL, with a message that says what to write instead,
/// for a missing port, a port above 65535, or a unix path that is relative
/// or too long.
Result<ListenAddress> parse_listen_address(std::string_view text);

/// True for addresses only this host can reach: 127.0.0.0/8, ::1,
/// ::ffff:127.x.x.x, "localhost", and every unix socket. Other names are
/// not resolved: they count as reachable from elsewhere.
bool is_local_only(const ListenAddress& address);

}  // namespace corral
