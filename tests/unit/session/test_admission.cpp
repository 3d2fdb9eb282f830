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

namespace {

// What admit_async told one request, kept for the checks.
struct Told {
  std::optional<Result<Admission::Ticket>> result;
  Admission::Decided callback() {
    return [this](Result<Admission::Ticket> outcome) { result.emplace(std::move(outcome)); };
  }
  int code() const { return result && !result->ok() ? result->error().code : 0; }
  bool admitted() const { return result && result->ok(); }
};

}  // namespace

TEST_CASE("admit_async decides at once when it can, on the calling thread") {
  Admission admission({1, uint64_t{100}, 1});
  Told room, never, no_wait;
  CHECK(admission.admit_async(10, true, room.callback()) == nullptr);
  CHECK(room.admitted());
  CHECK(admission.admit_async(101, true, never.callback()) == nullptr);
  CHECK(never.code() == EINVAL);
  CHECK(admission.admit_async(10, false, no_wait.callback()) == nullptr);
  CHECK(no_wait.code() == ENOSPC);
  CHECK(admission.queued() == 0);
}

TEST_CASE("async waiters hold no thread and are admitted first come, first served") {
  Admission admission({1, std::nullopt, 2});
  Told held, first, second, third;
  admission.admit_async(0, true, held.callback());
  REQUIRE(held.admitted());
  auto first_waiter = admission.admit_async(0, true, first.callback());
  auto second_waiter = admission.admit_async(0, true, second.callback());
  REQUIRE(first_waiter != nullptr);
  REQUIRE(second_waiter != nullptr);
  CHECK(admission.queued() == 2);
  CHECK_FALSE(first.result.has_value());
  // The queue is full: the third is refused at once.
  CHECK(admission.admit_async(0, true, third.callback()) == nullptr);
  CHECK(third.code() == ENOSPC);
  // Room freed: the first in line gets it, on the thread that freed it.
  held.result->value().release();
  CHECK(first.admitted());
  CHECK_FALSE(second.result.has_value());
  first.result->value().release();
  CHECK(second.admitted());
  CHECK(admission.queued() == 0);
  CHECK(admission.sessions() == 1);
}

TEST_CASE("a big waiter at the front is not overtaken by a small one behind it") {
  Admission admission({0, uint64_t{100}, 4});
  Told sixty, big, small;
  admission.admit_async(60, true, sixty.callback());
  REQUIRE(sixty.admitted());
  admission.admit_async(80, true, big.callback());
  admission.admit_async(10, true, small.callback());  // would fit, but waits its turn
  CHECK_FALSE(small.result.has_value());
  sixty.result->value().release();
  CHECK(big.admitted());
  CHECK(small.admitted());  // 80 + 10 fit together
  CHECK(admission.memory() == 90);
}

TEST_CASE("give_up ends a wait with ENOSPC, lets the next in line go, and is idempotent") {
  Admission admission({0, uint64_t{100}, 4});
  Told held, big, small;
  admission.admit_async(50, true, held.callback());
  auto big_waiter = admission.admit_async(80, true, big.callback());
  admission.admit_async(40, true, small.callback());
  CHECK_FALSE(small.result.has_value());
  admission.give_up(big_waiter);
  CHECK(big.code() == ENOSPC);
  CHECK(small.admitted());  // 50 + 40 fit once the big one left the front
  admission.give_up(big_waiter);  // decided already: nothing happens
  CHECK(admission.queued() == 0);
}

TEST_CASE("close answers every async waiter EAGAIN at once, and refuses new waits") {
  Admission admission({1, std::nullopt, 4});
  Told held, a, b, later;
  admission.admit_async(0, true, held.callback());
  admission.admit_async(0, true, a.callback());
  admission.admit_async(0, true, b.callback());
  admission.close();
  CHECK(a.code() == EAGAIN);
  CHECK(b.code() == EAGAIN);
  CHECK(admission.queued() == 0);
  CHECK(admission.admit_async(0, true, later.callback()) == nullptr);
  CHECK(later.code() == EAGAIN);
}

TEST_CASE("blocking and async waiters share one FIFO queue") {
  Admission admission({1, std::nullopt, 4});
  Told held, async_first;
  admission.admit_async(0, true, held.callback());
  admission.admit_async(0, true, async_first.callback());
  std::atomic<bool> blocking_admitted{false};
  std::thread blocking([&] { blocking_admitted = admission.admit(0, milliseconds(5000)).ok(); });
  while (admission.queued() < 2) std::this_thread::yield();
  held.result->value().release();
  CHECK(async_first.admitted());
  CHECK_FALSE(blocking_admitted);
  async_first.result->value().release();
  blocking.join();
  CHECK(blocking_admitted);
}

TEST_CASE("sessions always admitted: the smallest of max_sessions, the uid pool and the budget's room") {
  constexpr uint64_t GiB = 1ull << 30;
  CHECK_FALSE(sessions_always_admitted({0, std::nullopt, 64}, std::nullopt, 0).has_value());
  CHECK(sessions_always_admitted({3, std::nullopt, 64}, std::nullopt, 0) == 3u);
  CHECK(sessions_always_admitted({0, std::nullopt, 64}, std::nullopt, 16) == 16u);
  CHECK(sessions_always_admitted({20, std::nullopt, 64}, std::nullopt, 16) == 16u);
  // 10 GiB of budget holds 3 sessions of 3 GiB, not 4 (rounded down).
  CHECK(sessions_always_admitted({0, 10 * GiB, 64}, 3 * GiB, 0) == 3u);
  CHECK(sessions_always_admitted({5, 10 * GiB, 64}, 3 * GiB, 16) == 3u);
  CHECK(sessions_always_admitted({2, 10 * GiB, 64}, 3 * GiB, 16) == 2u);
  // A budget smaller than one default session admits none at the defaults.
  CHECK(sessions_always_admitted({5, 1 * GiB, 64}, 3 * GiB, 16) == 0u);
}
