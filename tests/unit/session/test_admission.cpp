#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "corral/session/admission.hpp"

using namespace corral;
using namespace std::chrono;

TEST_CASE("admission holds max_sessions and gives room back on release") {
  Admission admission({2, std::nullopt, 4});
  auto a = admission.admit(0, milliseconds(0));
  auto b = admission.admit(0, milliseconds(0));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto refused = admission.admit(0, milliseconds(0));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ENOSPC);
  a->release();
  CHECK(admission.sessions() == 1);
  CHECK(admission.admit(0, milliseconds(0)).ok());  // the temporary ticket releases at once
  CHECK(admission.sessions() == 1);
}

TEST_CASE("the memory budget counts memory_max, and what never fits is EINVAL") {
  Admission admission({0, uint64_t{300}, 4});
  auto big = admission.admit(200, milliseconds(0));
  REQUIRE(big.ok());
  CHECK(admission.memory() == 200);
  CHECK(admission.admit(150, milliseconds(0)).error().code == ENOSPC);
  CHECK(admission.admit(100, milliseconds(0)).ok());
  CHECK(admission.admit(301, milliseconds(0)).error().code == EINVAL);
}

TEST_CASE("a waiting request gets the room when it frees, and times out otherwise") {
  Admission admission({1, std::nullopt, 4});
  auto held = admission.admit(0, milliseconds(0));
  REQUIRE(held.ok());
  auto started = steady_clock::now();
  CHECK(admission.admit(0, milliseconds(50)).error().code == ENOSPC);
  CHECK(steady_clock::now() - started >= milliseconds(50));

  std::thread releaser([&] {
    std::this_thread::sleep_for(milliseconds(50));
    held->release();
  });
  auto waited = admission.admit(0, milliseconds(5000));
  releaser.join();
  CHECK(waited.ok());
  CHECK(admission.queued() == 0);
}

TEST_CASE("waiters are served first come, first served, and the queue is bounded") {
  Admission admission({1, std::nullopt, 1});
  auto held = admission.admit(0, milliseconds(0));
  std::atomic<bool> first_admitted{false};
  std::thread first([&] { first_admitted = admission.admit(0, milliseconds(5000)).ok(); });
  while (admission.queued() == 0) std::this_thread::yield();
  // The queue holds one: a second waiter is refused at once.
  CHECK(admission.admit(0, milliseconds(5000)).error().code == ENOSPC);
  held->release();
  first.join();
  CHECK(first_admitted);
}

TEST_CASE("closing sends waiting requests away at once with EAGAIN") {
  Admission admission({1, std::nullopt, 4});
  auto held = admission.admit(0, milliseconds(0));
  REQUIRE(held.ok());
  std::atomic<int> code{0};
  auto started = steady_clock::now();
  std::thread waiter([&] {
    auto ticket = admission.admit(0, minutes(10));
    code = ticket.ok() ? 0 : ticket.error().code;
  });
  while (admission.queued() == 0) std::this_thread::sleep_for(milliseconds(1));
  admission.close();
  waiter.join();
  CHECK(code == EAGAIN);
  CHECK(steady_clock::now() - started < seconds(5));
  CHECK(admission.queued() == 0);
}
