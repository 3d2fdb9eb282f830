#include "corral/server/fd_budget.hpp"

#include <algorithm>

namespace corral {

FdBudget fit_fd_budget(size_t max_connections, std::optional<size_t> max_relays, uint64_t fd_limit) {
  FdBudget budget{max_connections, 0, {}};
  // Two connections at least: one may relay while another opens a session.
  constexpr size_t kFewest = 2;
  size_t fits = fd_limit == 0 ? max_connections
                              : (fd_limit > kFdsBesidesConnections + 2 * kFewest
                                     ? (fd_limit - kFdsBesidesConnections) / 2
                                     : kFewest);
  if (fits < max_connections) {
    budget.max_connections = std::max(fits, kFewest);
    budget.warnings.push_back("--max-connections " + std::to_string(max_connections) + " lowered to " +
                              std::to_string(budget.max_connections) + ": each connection may take 2 fds and " +
                              std::to_string(kFdsBesidesConnections) + " stay for the rest, in the fd limit of " +
                              std::to_string(fd_limit) + " (RLIMIT_NOFILE; raise it with LimitNOFILE=)");
  }
  size_t most_relays = budget.max_connections - 1;
  budget.max_relays = max_relays.value_or(budget.max_connections / 2);
  if (budget.max_relays > most_relays) {
    budget.warnings.push_back("--max-relays " + std::to_string(budget.max_relays) + " lowered to " +
                              std::to_string(most_relays) +
                              ": relays count as connections, and one must stay for the API");
    budget.max_relays = most_relays;
  }
  return budget;
}

}  // namespace corral
