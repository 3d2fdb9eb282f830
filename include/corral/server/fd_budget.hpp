// FdBudget: what the front door may hold open, fitted into corrald's fd
// limit (RLIMIT_NOFILE) at start. Every API connection takes an fd, and may
// take one more toward a session (a relayed WebSocket's browser side, a
// forwarded WebDriver command's connection); relays count as connections
// for as long as they live. So 2 x --max-connections, plus room for the
// rest (sessions' pidfds, cgroup files, the journal, a session start),
// must fit: then no number of clients, relays among them, can make an open
// fail with EMFILE. Pure, for main.cpp and the unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corral {

/// Fds kept for what is not the front door.
inline constexpr size_t kFdsBesidesConnections = 256;

struct FdBudget {
  size_t max_connections = 0;  ///< as given, or fewer to fit the fd limit
  size_t max_relays = 0;       ///< as given (default: half the connections), below max_connections
  std::vector<std::string> warnings;  ///< what was changed and why, for the log
};

/// Fit --max-connections and --max-relays (nullopt: half the connections)
/// into `fd_limit` (0: no limit). Relays stay below the connections, so
/// that plain API requests (POST /v1/sessions) always have room.
FdBudget fit_fd_budget(size_t max_connections, std::optional<size_t> max_relays, uint64_t fd_limit);

}  // namespace corral
