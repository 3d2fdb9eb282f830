// SessionManager's open path on fakes: what a client would see, and that a
// failed open leaves nothing behind whatever step it failed at.
#include <doctest/doctest.h>

#include <thread>

#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

TEST_CASE("an opened session runs in a scope of its own with its endpoints") {
  ManagerFixture f;
  auto info = f.open_ok();
  CHECK(info.state == SessionState::running);
  CHECK(info.scope.name == "corral-" + info.id);
  CHECK(f.backend.has(info.scope.name));
  CHECK(f.launcher.browser(info.pid).released);
  CHECK(f.launcher.has_files(info.id));
  REQUIRE(info.endpoints.devtools_http);
  CHECK(info.enforced.memory);
  CHECK(f.manager().list().size() == 1);
  CHECK(f.manager().get(info.id)->stats.has_value());
}

TEST_CASE("a chromedriver session's launch gets a secret URL base of its own; a chrome one none") {
  ManagerFixture f;
  SessionRequest driver;
  driver.kind = BrowserKind::chromedriver;
  auto first = f.launcher.browser(f.open_ok(driver).pid).driver_url_base;
  auto second = f.launcher.browser(f.open_ok(driver).pid).driver_url_base;
  CHECK(first.size() == 33);  // "/" and 128 bits in hex
  CHECK(first.starts_with("/"));
  CHECK(first.find_first_not_of("0123456789abcdef", 1) == std::string::npos);
  CHECK(first != second);
  CHECK(f.launcher.browser(f.open_ok().pid).driver_url_base.empty());
}

TEST_CASE("daemon defaults fill the limits a request leaves unset") {
  ManagerFixture f;
  f.config.default_limits.memory_max = 512u << 20;
  SessionRequest request;
  request.limits.tasks_max = 64;
  auto info = f.open_ok(request);
  CHECK(info.limits.memory_max == 512u << 20);
  CHECK(info.limits.tasks_max == 64u);
}

TEST_CASE("a failed spawn leaves nothing and gives the room back") {
  ManagerFixture f;
  f.config.admission.max_sessions = 1;
  f.launcher.fail_spawn = Error::make(ENOEXEC, "no chrome binary is configured");
  auto opened = f.manager().open({});
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ENOEXEC);  // 503 browser_unavailable
  CHECK(f.backend.creates == 0);
  CHECK(f.host_is_clean());
  f.launcher.fail_spawn.reset();
  CHECK(f.manager().open({}).ok());  // the one room was given back
}

TEST_CASE("a scope that cannot be made: the gated browser is killed and its files removed") {
  ManagerFixture f;
  f.config.admission.max_sessions = 1;
  f.backend.fail_create = Error::make(ENOENT, "StartTransientUnit failed");
  auto opened = f.manager().open({});
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == EIO);  // a host failure is the daemon's, not the client's
  CHECK(f.host_is_clean());
  CHECK(f.manager().list().empty());
  CHECK(f.manager().metrics().render({}).find("corral_session_open_failures_total 1\n") != std::string::npos);
  f.backend.fail_create.reset();
  CHECK(f.manager().open({}).ok());
}

TEST_CASE("a browser that cannot exec: its scope is killed and removed") {
  ManagerFixture f;
  f.launcher.fail_release = Error::make(ECHILD, "cannot run the browser: exec: Permission denied");
  auto opened = f.manager().open({});
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ECHILD);  // 500 browser_failed
  CHECK(opened.error().message.find("Permission denied") != std::string::npos);
  CHECK(f.backend.kills == 1);
  CHECK(f.host_is_clean());
}

TEST_CASE("a browser that never answers: the error carries its log, and nothing is left") {
  ManagerFixture f;
  f.launcher.fail_ready = Error::make(ETIMEDOUT, "the browser did not open DevTools in time");
  auto opened = f.manager().open({});
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ETIMEDOUT);
  CHECK(opened.error().message.find("fake browser log") != std::string::npos);
  CHECK(f.host_is_clean());
  CHECK(f.manager().open_count() == 0);
}

TEST_CASE("a failed open is no session: it is neither listed nor in the history") {
  ManagerFixture f;
  f.launcher.fail_ready = Error::make(ETIMEDOUT, "timeout");
  REQUIRE_FALSE(f.manager().open({}).ok());
  f.launcher.fail_ready.reset();
  auto info = f.open_ok();
  REQUIRE(f.manager().close(info.id, milliseconds(0)).ok());
  CHECK(f.manager().list().empty());
  CHECK(f.manager().get(info.id).ok());
}

TEST_CASE("limits the host cannot enforce are refused before anything starts") {
  ManagerFixture f;
  f.backend.available = Controllers{false, false, false};
  SessionRequest request;
  request.limits.memory_max = 1u << 30;
  auto opened = f.manager().open(request);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == EOPNOTSUPP);  // 422 limit_not_enforceable
  CHECK(f.backend.creates == 0);
  CHECK(f.launcher.files_count() == 0);
}

TEST_CASE("a ttl or idle timeout above the daemon's maximum is refused") {
  ManagerFixture f;
  f.config.max_ttl = seconds(60);
  SessionRequest request;
  request.ttl = seconds(61);
  auto opened = f.manager().open(request);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == EINVAL);
  CHECK(opened.error().message.find("60 s") != std::string::npos);
}

TEST_CASE("a browser that exits while it starts fails the open, and is cleaned once") {
  ManagerFixture f;
  f.launcher.hold_ready();
  f.launcher.ready_despite_exit = true;  // it answered, then died before the session ran
  std::optional<Result<SessionInfo>> opened;
  std::thread opener([&] { opened = f.manager().open({}); });
  REQUIRE(eventually([&] { return f.launcher.waiting_for_ready() == 1; }));
  auto starting = f.manager().list();
  REQUIRE(starting.size() == 1);
  CHECK(starting[0].state == SessionState::starting);
  f.launcher.exit(starting[0].pid, ExitStatus{0, SIGSEGV});
  f.launcher.release_ready();
  opener.join();
  REQUIRE_FALSE(opened->ok());
  CHECK(opened->error().code == ECHILD);
  CHECK(opened->error().message.find("killed by signal SEGV") != std::string::npos);
  CHECK(f.backend.kills == 1);
  CHECK(f.host_is_clean());
}

TEST_CASE("shutdown while a session starts: the open fails with EAGAIN and the session is cleaned") {
  ManagerFixture f;
  f.launcher.hold_ready();
  std::optional<Result<SessionInfo>> opened;
  std::thread opener([&] { opened = f.manager().open({}); });
  REQUIRE(eventually([&] { return f.launcher.waiting_for_ready() == 1; }));
  f.manager().refuse_new_sessions();
  std::thread closer([&] { f.manager().close_all(); });
  f.launcher.release_ready();
  opener.join();
  closer.join();  // close_all waits for the starting session too
  REQUIRE_FALSE(opened->ok());
  CHECK(opened->error().code == EAGAIN);  // 503
  CHECK(f.host_is_clean());
  CHECK(f.manager().open({}).error().code == EAGAIN);
}

TEST_CASE("renew starts the idle timeout again; unknown ids are ENOENT") {
  ManagerFixture f;
  auto info = f.open_ok();
  auto before = f.manager().get(info.id)->idle_expires_at;
  std::this_thread::sleep_for(milliseconds(5));
  REQUIRE(f.manager().renew(info.id).ok());
  CHECK(f.manager().get(info.id)->idle_expires_at > before);
  CHECK(f.manager().renew("000000000000").error().code == ENOENT);
  CHECK(f.manager().get("000000000000").error().code == ENOENT);
}

TEST_CASE("every change to the running set is in the state file") {
  ManagerFixture f;
  auto a = f.open_ok();
  auto b = f.open_ok();
  auto file = session_records_path(f.state.path());
  CHECK(load_session_records(file)->size() == 2);
  REQUIRE(f.manager().close(a.id, milliseconds(0)).ok());
  // The state file is rewritten after the close has answered.
  REQUIRE(eventually([&] { return f.manager().get(a.id)->report->pending.empty(); }));
  auto records = load_session_records(file);
  REQUIRE(records->size() == 1);
  CHECK((*records)[0].info.id == b.id);
  CHECK((*records)[0].pid_start_time == f.launcher.browser(b.pid).start_time);
}
