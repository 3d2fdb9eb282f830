// Proxied connections to a session's browser: an open one keeps the session
// from idling out (never past its ttl), and whoever proxies is told when
// the session starts to close, whatever ends it.
#include <doctest/doctest.h>

#include <mutex>
#include <set>
#include <thread>

#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

TEST_CASE("a session with an open connection does not idle out; after it ends, it does") {
  ManagerFixture f;
  SessionRequest request;
  request.idle_timeout = milliseconds(100);
  auto session = f.open_ok(request);
  REQUIRE(f.manager().begin_connection(session.id).ok());
  std::this_thread::sleep_for(milliseconds(400));
  CHECK(f.state_of(session.id) == SessionState::running);
  f.manager().end_connection(session.id);
  CHECK(f.state_of(session.id) == SessionState::running);  // the idle time counts from the end
  REQUIRE(eventually([&] { return f.state_of(session.id) == SessionState::closed; }));
  CHECK(f.manager().get(session.id)->report->reason == CloseReason::idle);
  CHECK(f.host_is_clean());
}

TEST_CASE("an open connection does not hold a session past its ttl") {
  ManagerFixture f;
  SessionRequest request;
  request.ttl = milliseconds(150);
  auto session = f.open_ok(request);
  REQUIRE(f.manager().begin_connection(session.id).ok());
  REQUIRE(eventually([&] { return f.state_of(session.id) == SessionState::closed; }));
  CHECK(f.manager().get(session.id)->report->reason == CloseReason::expired);
  f.manager().end_connection(session.id);  // late: harmless
  CHECK(f.host_is_clean());
}

TEST_CASE("begin_connection: unknown, closed") {
  ManagerFixture f;
  CHECK(f.manager().begin_connection("0123456789ab").error().code == ENOENT);
  auto session = f.open_ok();
  REQUIRE(f.manager().close(session.id, milliseconds(0)).ok());
  CHECK(f.manager().begin_connection(session.id).error().code == EALREADY);
}

TEST_CASE("begin_command counts as begin_connection does, and gives the session's end") {
  ManagerFixture f;
  CHECK(f.manager().begin_command("0123456789ab").error().code == ENOENT);
  SessionRequest request;
  request.idle_timeout = milliseconds(100);
  auto session = f.open_ok(request);
  auto expires_at = f.manager().begin_command(session.id);
  REQUIRE(expires_at.ok());
  CHECK(*expires_at == f.manager().get(session.id)->expires_at);
  std::this_thread::sleep_for(milliseconds(300));
  CHECK(f.state_of(session.id) == SessionState::running);  // counted: not idle
  f.manager().end_connection(session.id);
  REQUIRE(eventually([&] { return f.state_of(session.id) == SessionState::closed; }));
  CHECK(f.manager().get(session.id)->report->reason == CloseReason::idle);
  CHECK(f.manager().begin_command(session.id).error().code == EALREADY);
}

// Each command renews the idle lease without waking the closer (its wake at
// the older end finds the newer one): the session stays open as long as
// commands come, and idles out after the last.
TEST_CASE("commands in a row keep renewing the idle lease; after the last, the session idles out") {
  ManagerFixture f;
  SessionRequest request;
  request.idle_timeout = milliseconds(150);
  auto session = f.open_ok(request);
  auto until = steady_clock::now() + milliseconds(600);
  while (steady_clock::now() < until) {
    REQUIRE(f.manager().begin_command(session.id).ok());
    f.manager().end_connection(session.id);
    std::this_thread::sleep_for(milliseconds(20));
  }
  CHECK(f.state_of(session.id) == SessionState::running);
  REQUIRE(eventually([&] { return f.state_of(session.id) == SessionState::closed; }));
  CHECK(f.manager().get(session.id)->report->reason == CloseReason::idle);
  CHECK(f.host_is_clean());
}

TEST_CASE("a closing listener hears of every session that starts to close, once, until removed") {
  ManagerFixture f;
  std::mutex lock;
  std::multiset<std::string> told, told_removed;
  int removed = f.manager().add_closing_listener([&](const std::string& id) {
    std::lock_guard guard(lock);
    told_removed.insert(id);
  });
  f.manager().add_closing_listener([&](const std::string& id) {
    std::lock_guard guard(lock);
    told.insert(id);
  });
  f.manager().remove_closing_listener(removed);
  SessionRequest short_lived;
  short_lived.ttl = milliseconds(50);
  auto by_client = f.open_ok(), by_ttl = f.open_ok(short_lived), by_exit = f.open_ok();
  REQUIRE(f.manager().close(by_client.id, milliseconds(0)).ok());
  f.launcher.exit(by_exit.pid, ExitStatus{1, 0});
  REQUIRE(eventually([&] { return f.state_of(by_ttl.id) == SessionState::closed; }));
  REQUIRE(eventually([&] { return f.state_of(by_exit.id) == SessionState::closed; }));
  std::lock_guard guard(lock);
  CHECK(told == std::multiset<std::string>{by_client.id, by_ttl.id, by_exit.id});
  CHECK(told_removed.empty());
}

TEST_CASE("a session's access secret is 32 hex digits and its own") {
  ManagerFixture f;
  auto a = f.open_ok(), b = f.open_ok();
  CHECK(a.access_secret.size() == 32);
  CHECK(a.access_secret.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a.access_secret != b.access_secret);
}
