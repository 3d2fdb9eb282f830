// fit_fd_budget: the front door's connections and relays in the fd limit.
#include <doctest/doctest.h>

#include "corral/server/fd_budget.hpp"

using namespace corral;

TEST_CASE("within the fd limit nothing changes; relays default to half the connections") {
  auto budget = fit_fd_budget(1024, std::nullopt, 20000);
  CHECK(budget.max_connections == 1024);
  CHECK(budget.max_relays == 512);
  CHECK(budget.warnings.empty());
  CHECK(fit_fd_budget(1024, 900, 0).max_relays == 900);  // no limit at all
}

TEST_CASE("a small fd limit lowers the connections to what fits, two fds each, and the relays with them") {
  // 2,000 relays took 4,018 fds: each connection may hold 2.
  auto budget = fit_fd_budget(1024, std::nullopt, 400);
  CHECK(budget.max_connections == (400 - kFdsBesidesConnections) / 2);
  CHECK(2 * budget.max_connections + kFdsBesidesConnections <= 400);
  CHECK(budget.max_relays == budget.max_connections / 2);
  REQUIRE(budget.warnings.size() == 1);
  CHECK(budget.warnings[0].find("RLIMIT_NOFILE") != std::string::npos);
  CHECK(fit_fd_budget(1024, std::nullopt, 10).max_connections == 2);  // never none
}

TEST_CASE("relays stay below the connections, so that an open always has room") {
  auto budget = fit_fd_budget(100, 100, 0);
  CHECK(budget.max_relays == 99);
  REQUIRE(budget.warnings.size() == 1);
  CHECK(budget.warnings[0].find("--max-relays") != std::string::npos);
  CHECK(fit_fd_budget(100, 10, 0).max_relays == 10);
}
