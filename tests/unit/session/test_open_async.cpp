// SessionManager::open_async: an open that holds no thread while it waits
// for room, starts its browser on the executor it is given, and is sent
// away at once at shutdown.
#include <doctest/doctest.h>

#include <deque>
#include <optional>

#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

namespace {

// Tasks given to the executor, run when the test says.
struct ManualExecutor {
  std::deque<std::function<void()>> tasks;
  SessionManager::Executor executor() {
    return [this](std::function<void()> task) { tasks.push_back(std::move(task)); };
  }
  void run_all() {
    while (!tasks.empty()) {
      auto task = std::move(tasks.front());
      tasks.pop_front();
      task();
    }
  }
};

struct Outcome {
  std::optional<Result<SessionInfo>> result;
  SessionManager::Opened callback() {
    return [this](Result<SessionInfo> opened) { result.emplace(std::move(opened)); };
  }
  int code() const { return result && !result->ok() ? result->error().code : 0; }
};

}  // namespace

TEST_CASE("open_async starts the browser on the executor, not on the calling thread") {
  ManagerFixture f;
  ManualExecutor pool;
  Outcome outcome;
  auto waiter = f.manager().open_async({}, milliseconds(0), pool.executor(), outcome.callback());
  CHECK(waiter == nullptr);  // room at once: nothing waits
  CHECK_FALSE(outcome.result.has_value());
  CHECK(pool.tasks.size() == 1);
  pool.run_all();
  REQUIRE(outcome.result.has_value());
  REQUIRE(outcome.result->ok());
  CHECK((*outcome.result)->state == SessionState::running);
  CHECK(f.manager().close((*outcome.result)->id, milliseconds(0)).ok());
}

TEST_CASE("an open_async that waits holds only a queue place, and is admitted when room frees") {
  ManagerFixture f;
  f.config.admission = {1, std::nullopt, 4};
  auto first = f.open_ok();
  ManualExecutor pool;
  Outcome waiting, refused;
  auto waiter = f.manager().open_async({}, seconds(60), pool.executor(), waiting.callback());
  REQUIRE(waiter != nullptr);
  CHECK(pool.tasks.empty());
  f.manager().open_async({}, milliseconds(0), pool.executor(), refused.callback());
  CHECK(refused.code() == ENOSPC);  // no wait: refused at once, behind a waiter
  CHECK(f.manager().close(first.id, milliseconds(0)).ok());
  CHECK(pool.tasks.size() == 1);  // admitted on the closing thread; the start is the executor's
  pool.run_all();
  REQUIRE(waiting.result.has_value());
  REQUIRE(waiting.result->ok());
  CHECK(f.manager().close((*waiting.result)->id, milliseconds(0)).ok());
  CHECK(f.host_is_clean());
}

TEST_CASE("giving up the wait answers ENOSPC; shutting down answers EAGAIN at once") {
  ManagerFixture f;
  f.config.admission = {1, std::nullopt, 4};
  auto first = f.open_ok();
  ManualExecutor pool;
  Outcome timed_out, at_shutdown;
  auto waiter = f.manager().open_async({}, seconds(60), pool.executor(), timed_out.callback());
  f.manager().open_async({}, seconds(60), pool.executor(), at_shutdown.callback());
  f.manager().give_up_waiting(waiter);
  CHECK(timed_out.code() == ENOSPC);
  CHECK_FALSE(at_shutdown.result.has_value());
  f.manager().refuse_new_sessions();
  CHECK(at_shutdown.code() == EAGAIN);
  CHECK(pool.tasks.empty());
  f.manager().close_all();
  CHECK(f.manager().open_count() == 0);
  (void)first;
}
