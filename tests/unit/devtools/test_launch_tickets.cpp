#include <doctest/doctest.h>

#include <thread>

#include "corral/devtools/launch_tickets.hpp"

using namespace corral;
using namespace std::chrono_literals;

TEST_CASE("a ticket opens one launch, once") {
  LaunchTickets tickets;
  auto ticket = tickets.issue();
  CHECK(ticket.size() == 32);
  CHECK(tickets.redeem(ticket));
  CHECK_FALSE(tickets.redeem(ticket));
}

TEST_CASE("only a ticket corral minted is taken") {
  LaunchTickets tickets;
  auto ticket = tickets.issue();
  CHECK_FALSE(tickets.redeem("anything"));
  CHECK_FALSE(tickets.redeem(""));
  CHECK_FALSE(tickets.redeem(ticket.substr(0, 31)));
  CHECK_FALSE(tickets.redeem(ticket + "0"));
  LaunchTickets other;
  CHECK_FALSE(other.redeem(ticket));
  CHECK(tickets.redeem(ticket));
}

TEST_CASE("an expired ticket is refused") {
  LaunchTickets tickets(50ms);
  auto ticket = tickets.issue();
  std::this_thread::sleep_for(120ms);
  CHECK_FALSE(tickets.redeem(ticket));
  auto fresh = tickets.issue();
  CHECK(tickets.redeem(fresh));
}
