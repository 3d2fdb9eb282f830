// SessionManager::recover on fakes: which sessions an earlier run left are
// adopted, and that everything else is reaped.
#include <doctest/doctest.h>

#include <deque>
#include <fstream>

#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

namespace {

// What an earlier run wrote for a session whose browser is `pid`.
SessionRecord record_for(const std::string& id, pid_t pid, uint64_t start_time) {
  SessionRecord record;
  SessionInfo& info = record.info;
  info.id = id;
  info.pid = pid;
  info.scope = FakeScopeBackend::scope_named("corral-" + id);
  info.state = SessionState::running;
  info.request.labels = {{"bot", id}};
  info.created_at = system_clock::now() - seconds(10);
  info.ttl = hours(1);
  info.idle_timeout = minutes(5);
  info.expires_at = info.created_at + info.ttl;
  info.endpoints.devtools_http = "http://127.0.0.1:9222";
  record.pid_start_time = start_time;
  return record;
}

struct EarlierRun {
  ManagerFixture& f;
  std::deque<SessionRecord> records;  ///< a deque: running() hands out references

  /// A session that is still fine: record, scope and live browser agree.
  SessionRecord& running(const std::string& id, bool with_scope = true) {
    pid_t pid = f.launcher.add_running(id);
    if (with_scope) f.backend.add_leftover("corral-" + id, pid);
    records.push_back(record_for(id, pid, f.launcher.browser(pid).start_time));
    return records.back();
  }
  void save() {
    std::vector<SessionRecord> all(records.begin(), records.end());
    REQUIRE(save_session_records(session_records_path(f.state.path()), all).ok());
  }
};

}  // namespace

TEST_CASE("recovery adopts only what record, scope and live browser agree on") {
  ManagerFixture f;
  EarlierRun earlier{f};
  earlier.running("aaaaaaaaaaaa");
  auto& dead = earlier.running("bbbbbbbbbbbb");
  auto& reused = earlier.running("cccccccccccc");
  auto& moved = earlier.running("dddddddddddd");
  earlier.running("eeeeeeeeeeee", false);  // its scope is gone: nothing to adopt
  f.launcher.exit(dead.info.pid, ExitStatus{0, SIGKILL});  // died while the daemon was down
  reused.pid_start_time += 1;                                // its PID is another process now
  moved.info.scope.cgroup = "/fake/elsewhere/corral-dddddddddddd.scope";
  f.backend.add_leftover("corral-ffffffffffff", f.launcher.add_running("ffffffffffff"));  // no record
  earlier.save();
  f.launcher.add_files("999999999999");  // a session dir with nothing else

  auto report = f.manager().recover();
  REQUIRE(report.ok());
  CHECK(report->adopted == 1);
  CHECK(report->reaped == 4);  // dead, reused, moved, and the scope without a record
  CHECK(report->state_file_problem.empty());
  auto sessions = f.manager().list();
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0].id == "aaaaaaaaaaaa");
  CHECK(sessions[0].state == SessionState::running);
  CHECK(sessions[0].request.labels.at("bot") == "aaaaaaaaaaaa");
  CHECK(sessions[0].endpoints.devtools_http == "http://127.0.0.1:9222");
  CHECK(f.backend.count() == 1);
  CHECK(f.launcher.files_count() == 1);
  CHECK(f.launcher.has_files("aaaaaaaaaaaa"));
  auto rewritten = load_session_records(session_records_path(f.state.path()));
  REQUIRE(rewritten.ok());
  REQUIRE(rewritten->size() == 1);
  CHECK((*rewritten)[0].info.id == "aaaaaaaaaaaa");
}

TEST_CASE("an adopted session is closed like any other, and its exit is noticed") {
  ManagerFixture f;
  EarlierRun earlier{f};
  auto kept = earlier.running("aaaaaaaaaaaa");
  auto exiting = earlier.running("bbbbbbbbbbbb");
  earlier.save();
  REQUIRE(f.manager().recover()->adopted == 2);
  auto report = f.manager().close("aaaaaaaaaaaa", milliseconds(0));
  REQUIRE(report.ok());
  CHECK(report->clean());
  f.launcher.exit(exiting.info.pid, ExitStatus{0, 0, false, false});
  REQUIRE(eventually([&] { return f.state_of("bbbbbbbbbbbb") == SessionState::closed; }));
  CHECK(f.manager().get("bbbbbbbbbbbb")->report->reason == CloseReason::browser_exited);
  CHECK(f.host_is_clean());
  (void)kept;
}

TEST_CASE("adopted sessions hold their room: a full host refuses a new one") {
  ManagerFixture f;
  f.config.admission.max_sessions = 1;
  EarlierRun earlier{f};
  earlier.running("aaaaaaaaaaaa");
  earlier.save();
  REQUIRE(f.manager().recover()->adopted == 1);
  CHECK(f.manager().open({}).error().code == ENOSPC);  // 429
}

TEST_CASE("an adopted session keeps the ttl it was given when it was created") {
  ManagerFixture f;
  EarlierRun earlier{f};
  auto& old = earlier.running("aaaaaaaaaaaa");
  old.info.created_at = system_clock::now() - seconds(59) - milliseconds(950);
  old.info.ttl = seconds(60);
  old.info.expires_at = old.info.created_at + old.info.ttl;
  earlier.save();
  REQUIRE(f.manager().recover()->adopted == 1);
  REQUIRE(eventually([&] { return f.state_of("aaaaaaaaaaaa") == SessionState::closed; }));
  CHECK(f.manager().get("aaaaaaaaaaaa")->report->reason == CloseReason::expired);
}

TEST_CASE("a garbage state file: nothing is adopted, everything is reaped, the file is kept aside") {
  ManagerFixture f;
  EarlierRun earlier{f};
  earlier.running("aaaaaaaaaaaa");
  earlier.running("bbbbbbbbbbbb");
  std::ofstream(session_records_path(f.state.path())) << "{\"version\": 1, \"sessions\": [garbage";
  auto report = f.manager().recover();
  REQUIRE(report.ok());
  CHECK(report->adopted == 0);
  CHECK(report->reaped == 2);
  CHECK_FALSE(report->state_file_problem.empty());
  CHECK(std::filesystem::exists(f.state.path() / "sessions.json.corrupt"));
  CHECK(f.host_is_clean());
  CHECK(f.manager().open({}).ok());  // and the daemon works on
}

TEST_CASE("no state file: every leftover scope is reaped") {
  ManagerFixture f;
  EarlierRun earlier{f};
  earlier.running("aaaaaaaaaaaa");
  auto report = f.manager().recover();
  REQUIRE(report.ok());
  CHECK(report->adopted == 0);
  CHECK(report->reaped == 1);
  CHECK(report->state_file_problem.empty());  // a missing file is a first start, not a problem
  CHECK(f.host_is_clean());
}
