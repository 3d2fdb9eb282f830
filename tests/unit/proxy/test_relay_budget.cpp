// RelayBudget: the bounds on relayed WebSockets, per session and in total.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "corral/proxy/relay_budget.hpp"

using namespace corral;

TEST_CASE("a session's relays stop at its bound with EMFILE (429); a released slot makes room again") {
  RelayBudget budget({2, 10, {}});
  auto first = budget.reserve("a");
  auto second = budget.reserve("a");
  REQUIRE(first);
  REQUIRE(second);
  auto third = budget.reserve("a");
  REQUIRE(!third);
  CHECK(third.error().code == EMFILE);
  CHECK(relay_refusal_status(third.error()) == 429);
  CHECK(third.error().message.find("--max-relays-per-session") != std::string::npos);
  CHECK(budget.reserve("b"));  // another session is not held to a's bound
  CHECK(budget.held("a") == 2);
  *first = nullptr;
  CHECK(budget.held("a") == 1);
  CHECK(budget.reserve("a"));
}

TEST_CASE("the total stops every session, and launches, with ENFILE (503)") {
  RelayBudget budget({5, 3, {}});
  std::vector<RelayBudget::Slot> slots;
  for (const char* session : {"a", "b", ""}) slots.push_back(*budget.reserve(session));
  CHECK(budget.held() == 3);
  for (const char* session : {"a", "c", ""}) {
    auto refused = budget.reserve(session);
    REQUIRE(!refused);
    CHECK(refused.error().code == ENFILE);
    CHECK(relay_refusal_status(refused.error()) == 503);
  }
  CHECK(budget.held("c") == 0);  // a refusal holds nothing
  slots.pop_back();
  CHECK(budget.reserve("c"));
}

TEST_CASE("slots are released from any thread, after the budget is gone too") {
  std::vector<RelayBudget::Slot> slots;
  {
    RelayBudget budget({1000, 1000, {}});
    for (int i = 0; i < 200; ++i) slots.push_back(*budget.reserve(i % 2 ? "a" : "b"));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&slots, t] {
        for (size_t i = t; i < 100; i += 4) slots[i] = nullptr;
      });
    for (auto& thread : threads) thread.join();
    CHECK(budget.held() == 100);
    CHECK(budget.held("a") + budget.held("b") == 100);
  }
  slots.clear();  // the counts outlive the budget; nothing to check but that this is safe (ASan would say)
}
