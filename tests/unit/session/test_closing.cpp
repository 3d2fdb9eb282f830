// SessionManager's close paths on fakes: a client's close, a browser that
// ends by itself, leases that run out, races between them, the history.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

TEST_CASE("close: SIGTERM first, then the scope is killed, removed, and the files go") {
  ManagerFixture f;
  f.launcher.exits_on_sigterm = false;  // a browser that ignores SIGTERM, as the stub does
  auto info = f.open_ok();
  auto report = f.manager().close(info.id, milliseconds(20));
  REQUIRE(report.ok());
  CHECK(report->reason == CloseReason::client);
  CHECK_FALSE(report->graceful);
  CHECK(f.launcher.browser(info.pid).sigterms == 1);
  CHECK(report->processes_killed == 1);
  CHECK(report->clean());
  CHECK(f.host_is_clean());
  auto closed = f.manager().get(info.id);
  REQUIRE(closed.ok());
  CHECK(closed->state == SessionState::closed);
  REQUIRE(closed->report);
  CHECK(closed->report->verified_empty);
  CHECK_FALSE(closed->stats);  // no live stats for a closed session
}

TEST_CASE("a browser that ends on SIGTERM closes gracefully") {
  ManagerFixture f;
  auto info = f.open_ok();
  auto report = f.manager().close(info.id, milliseconds(20));
  REQUIRE(report.ok());
  CHECK(report->graceful);
  CHECK(f.launcher.browser(info.pid).sigterms == 1);
  CHECK(f.host_is_clean());
}

TEST_CASE("double close: the second is EALREADY and nothing is cleaned twice") {
  ManagerFixture f;
  auto info = f.open_ok();
  REQUIRE(f.manager().close(info.id, milliseconds(0)).ok());
  auto again = f.manager().close(info.id, milliseconds(0));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == EALREADY);  // 409 already_closed
  CHECK(again.error().message.find("already closed") != std::string::npos);
  CHECK(f.backend.kills == 1);
}

TEST_CASE("close while the session starts is EBUSY; it runs afterwards and closes") {
  ManagerFixture f;
  f.launcher.hold_ready();
  std::optional<Result<SessionInfo>> opened;
  std::thread opener([&] { opened = f.manager().open({}); });
  REQUIRE(eventually([&] { return f.launcher.waiting_for_ready() == 1; }));
  auto id = f.manager().list().at(0).id;
  auto refused = f.manager().close(id, milliseconds(0));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == EBUSY);  // 409 conflict
  f.launcher.release_ready();
  opener.join();
  REQUIRE(opened->ok());
  CHECK((*opened)->state == SessionState::running);
  CHECK(f.manager().close(id, milliseconds(0)).ok());
  CHECK(f.host_is_clean());
}

TEST_CASE("a close racing the ttl: exactly one of them cleans the session") {
  ManagerFixture f;
  SessionRequest request;
  request.ttl = milliseconds(15);
  for (int round = 0; round < 20; ++round) {
    auto info = f.open_ok(request);
    std::this_thread::sleep_for(milliseconds(14 + round % 3));
    auto closed = f.manager().close(info.id, milliseconds(0));
    REQUIRE(eventually([&] { return f.state_of(info.id) == SessionState::closed; }));
    auto report = *f.manager().get(info.id)->report;
    if (closed) CHECK(report.reason == CloseReason::client);
    else {
      CHECK(closed.error().code == EALREADY);
      CHECK(report.reason == CloseReason::expired);
    }
    CHECK(f.backend.kills == round + 1);  // one cleanup per session, never two
  }
  CHECK(f.host_is_clean());
}

TEST_CASE("a session idle for longer than its idle timeout is closed as idle") {
  ManagerFixture f;
  SessionRequest request;
  request.idle_timeout = milliseconds(150);
  auto idle = f.open_ok(request);
  auto busy = f.open_ok(request);
  for (int i = 0; i < 8; ++i) {  // 400 ms of requests on one of them
    std::this_thread::sleep_for(milliseconds(50));
    REQUIRE(f.manager().renew(busy.id).ok());
  }
  CHECK(f.state_of(idle.id) == SessionState::closed);
  CHECK(f.manager().get(idle.id)->report->reason == CloseReason::idle);
  CHECK(f.state_of(busy.id) == SessionState::running);
  REQUIRE(eventually([&] { return f.state_of(busy.id) == SessionState::closed; }));
  CHECK(f.host_is_clean());
}

TEST_CASE("sessions that expire together close in parallel, at most kBackgroundCloses at once") {
  ManagerFixture f;
  f.launcher.exits_on_sigterm = false;  // each close takes its full grace
  f.config.default_grace = seconds(1);
  SessionRequest request;
  request.ttl = milliseconds(300);
  std::vector<SessionInfo> sessions;
  for (int i = 0; i < 8; ++i) sessions.push_back(f.open_ok(request));
  auto opened = steady_clock::now();
  auto all_closed = [&] {
    return std::all_of(sessions.begin(), sessions.end(),
                       [&](const SessionInfo& info) { return f.state_of(info.id) == SessionState::closed; });
  };
  // One after another: 8 graces, 8 s. Four at a time: 2 s.
  REQUIRE(eventually(all_closed, seconds(10)));
  CHECK(steady_clock::now() - opened < milliseconds(300) + seconds(4));
  CHECK(f.launcher.graces_at_once() == static_cast<int>(SessionManager::kBackgroundCloses));
  for (const auto& info : sessions) CHECK(f.manager().get(info.id)->report->reason == CloseReason::expired);
  CHECK(f.host_is_clean());
}

TEST_CASE("a browser that crashes is cleaned up with its exit kept") {
  ManagerFixture f;
  auto info = f.open_ok();
  f.launcher.exit(info.pid, ExitStatus{0, SIGSEGV});
  REQUIRE(eventually([&] { return f.state_of(info.id) == SessionState::closed; }));
  auto closed = *f.manager().get(info.id);
  CHECK(closed.report->reason == CloseReason::browser_exited);
  REQUIRE(closed.exit);
  CHECK(closed.exit->signal == SIGSEGV);
  CHECK(f.host_is_clean());
  CHECK(f.manager().close(info.id, milliseconds(0)).error().code == EALREADY);
}

TEST_CASE("a browser SIGKILLed while its scope counts OOM kills closed for oom") {
  ManagerFixture f;
  auto info = f.open_ok();
  f.backend.set_oom_kills(info.scope.name, 1);
  f.launcher.exit(info.pid, ExitStatus{0, SIGKILL});
  REQUIRE(eventually([&] { return f.state_of(info.id) == SessionState::closed; }));
  CHECK(f.manager().get(info.id)->report->reason == CloseReason::oom);
}

TEST_CASE("processes that survive the kill: the scope is kept for inspection and reported") {
  ManagerFixture f;
  auto info = f.open_ok();
  f.backend.stuck.insert(info.scope.name);
  auto report = f.manager().close(info.id, milliseconds(0));
  REQUIRE(report.ok());
  CHECK_FALSE(report->verified_empty);
  CHECK_FALSE(report->scope_removed);
  CHECK(report->stuck_pids == std::vector<pid_t>{info.pid});
  CHECK(f.backend.has(info.scope.name));
  CHECK(f.manager().metrics().render({}).find("corral_cleanup_failures_total 1\n") != std::string::npos);
}

TEST_CASE("the history keeps the newest closed sessions") {
  ManagerFixture f;
  f.config.closed_history = 2;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto info = f.open_ok();
    REQUIRE(f.manager().close(info.id, milliseconds(0)).ok());
    ids.push_back(info.id);
  }
  CHECK(f.manager().get(ids[0]).error().code == ENOENT);  // 404: evicted
  CHECK(f.state_of(ids[1]) == SessionState::closed);
  CHECK(f.state_of(ids[2]) == SessionState::closed);
}

TEST_CASE("admission is first come, first served: the first waiter gets the first room") {
  ManagerFixture f;
  f.config.admission.max_sessions = 1;
  auto first = f.open_ok();
  std::atomic<int> order{0};
  int b_rank = 0, c_rank = 0;
  std::optional<Result<SessionInfo>> b, c;
  std::thread tb([&] { b = f.manager().open({}, seconds(5)); b_rank = ++order; });
  REQUIRE(eventually([&] { return f.manager().gauges().admission_queued == 1; }));
  std::thread tc([&] { c = f.manager().open({}, seconds(5)); c_rank = ++order; });
  REQUIRE(eventually([&] { return f.manager().gauges().admission_queued == 2; }));
  REQUIRE(f.manager().close(first.id, milliseconds(0)).ok());
  REQUIRE(eventually([&] { return order >= 1; }));
  std::this_thread::sleep_for(milliseconds(20));
  CHECK(order == 1);  // one room, one session
  CHECK(b_rank == 1);  // and it went to the earlier request
  tb.join();
  REQUIRE(b->ok());
  REQUIRE(f.manager().close((*b)->id, milliseconds(0)).ok());
  tc.join();
  REQUIRE(c->ok());
  CHECK(c_rank == 2);
}

TEST_CASE("close_all closes every running session in parallel with reason shutdown") {
  ManagerFixture f;
  f.launcher.exits_on_sigterm = false;
  f.config.default_grace = milliseconds(300);
  std::vector<SessionInfo> sessions;
  for (int i = 0; i < 4; ++i) sessions.push_back(f.open_ok());
  f.manager().close_all();
  CHECK(f.launcher.graces_at_once() == 4);  // one grace period for all, not 4 in a row
  for (const auto& info : sessions) CHECK(f.manager().get(info.id)->report->reason == CloseReason::shutdown);
  CHECK(f.host_is_clean());
  CHECK(f.manager().open({}).error().code == EAGAIN);
}

TEST_CASE("a close answers before the tidy-up and says what is pending; GET shows the final report") {
  ManagerFixture f;
  auto info = f.open_ok();
  auto report = f.manager().close(info.id, milliseconds(0));
  REQUIRE(report.ok());
  CHECK(report->dirs_removed);  // moved out of the session's reach already
  CHECK_FALSE(f.launcher.has_files(info.id));
  CHECK(report->pending == std::vector<std::string>{"files", "state_file"});
  REQUIRE(eventually([&] { return f.manager().get(info.id)->report->pending.empty(); }));
  CHECK(f.launcher.set_aside_count() == 0);
  CHECK(f.host_is_clean());
}

TEST_CASE("a close nobody waits for: closing at once, closed later with its report") {
  ManagerFixture f;
  f.launcher.exits_on_sigterm = false;
  auto info = f.open_ok();
  auto closing = f.manager().close_in_background(info.id, milliseconds(50));
  REQUIRE(closing.ok());
  CHECK(closing->state == SessionState::closing);
  CHECK_FALSE(closing->report);
  CHECK(f.manager().close(info.id, milliseconds(0)).error().code == EALREADY);  // one cleanup only
  REQUIRE(eventually([&] { return f.state_of(info.id) == SessionState::closed; }));
  auto closed = f.manager().get(info.id);
  CHECK(closed->report->reason == CloseReason::client);
  CHECK(closed->report->verified_empty);
  CHECK(f.launcher.browser(info.pid).sigterms == 1);  // the grace asked for was used
  CHECK(f.backend.kills == 1);
  CHECK(f.host_is_clean());
  CHECK(f.manager().close_in_background(info.id, {}).error().code == EALREADY);
  CHECK(f.manager().close_in_background("000000000000", {}).error().code == ENOENT);
}

TEST_CASE("many closes nobody waits for run at once, and close_all waits for them") {
  ManagerFixture f;
  f.launcher.exits_on_sigterm = false;
  std::vector<SessionInfo> sessions;
  for (int i = 0; i < 4; ++i) sessions.push_back(f.open_ok());
  for (const auto& info : sessions) REQUIRE(f.manager().close_in_background(info.id, milliseconds(200)).ok());
  f.manager().close_all();
  for (const auto& info : sessions) CHECK(f.state_of(info.id) == SessionState::closed);
  CHECK(f.launcher.graces_at_once() == 4);
  CHECK(f.host_is_clean());
}

TEST_CASE("with a uid pool: each session its own uid, the pool bounds them, a uid returns after the tidy-up") {
  ManagerFixture f;
  f.launcher.use_uid_pool(2);
  auto a = f.open_ok(), b = f.open_ok();
  REQUIRE((a.uid && b.uid));
  CHECK(*a.uid != *b.uid);
  auto third = f.manager().open({});
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().code == ENOSPC);  // 429 at_capacity
  auto report = f.manager().close(a.id, milliseconds(0));
  REQUIRE(report.ok());
  CHECK(std::find(report->pending.begin(), report->pending.end(), "uid") != report->pending.end());
  REQUIRE(eventually([&] { return f.manager().get(a.id)->report->pending.empty(); }));
  CHECK(f.launcher.releases() == 1);
  auto c = f.open_ok();
  CHECK(*c.uid == *a.uid);  // given back after its sweep, and free again
}

TEST_CASE("a uid whose sweep fails is quarantined, and the close report says so") {
  ManagerFixture f;
  f.launcher.use_uid_pool(2);
  auto a = f.open_ok();
  f.launcher.unsweepable.insert(*a.uid);
  REQUIRE(f.manager().close(a.id, milliseconds(0)).ok());
  REQUIRE(eventually([&] { return f.manager().get(a.id)->report->pending.empty(); }));
  auto problems = f.manager().get(a.id)->report->problems;
  REQUIRE_FALSE(problems.empty());
  CHECK(problems.back().find("keeps what its session left") != std::string::npos);
  CHECK(f.launcher.uid_pool().quarantined.count(*a.uid));
  auto b = f.open_ok();
  CHECK(*b.uid != *a.uid);
  CHECK(f.manager().open({}).error().code == ENOSPC);  // one free uid was all that was left
}
