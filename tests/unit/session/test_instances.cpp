// A SessionManager of instance X (a backend whose naming is X's): it names
// its scopes as X's, keeps records only of X's scopes, and recovery never
// reaps a scope that is not X's, even one a backend wrongly reported.
#include <doctest/doctest.h>

#include "corral/session/records.hpp"
#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

namespace {

SessionRecord record_for(const std::string& scope_name, const std::string& id, pid_t pid, uint64_t start_time) {
  SessionRecord record;
  SessionInfo& info = record.info;
  info.id = id;
  info.pid = pid;
  info.scope = FakeScopeBackend::scope_named(scope_name);
  info.state = SessionState::running;
  info.created_at = system_clock::now() - seconds(10);
  info.ttl = hours(1);
  info.idle_timeout = minutes(5);
  info.expires_at = info.created_at + info.ttl;
  record.pid_start_time = start_time;
  return record;
}

}  // namespace

TEST_CASE("instance X opens its sessions in scopes named corral-X-<id>") {
  ManagerFixture f;
  f.backend.instance = InstanceNaming("x");
  auto info = f.open_ok();
  CHECK(info.scope.name == "corral-x-" + info.id);
  CHECK(f.backend.has("corral-x-" + info.id));
  auto records = load_session_records(session_records_path(f.state.path()), InstanceNaming("x"));
  REQUIRE(records.ok());
  CHECK(records->size() == 1);
  REQUIRE(f.manager().close(info.id, milliseconds(0)).ok());
  CHECK(f.host_is_clean());
}

TEST_CASE("a state file is read only by the instance whose scopes it names") {
  auto x = record_for("corral-x-0123456789ab", "0123456789ab", 4242, 1);
  auto plain = record_for("corral-0123456789ab", "0123456789ab", 4242, 1);
  CHECK(decode_session_records(encode_session_records({x}), InstanceNaming("x")).ok());
  CHECK(decode_session_records(encode_session_records({plain})).ok());
  for (const auto& [record, naming] : {std::pair{x, InstanceNaming()}, std::pair{plain, InstanceNaming("x")},
                                       std::pair{x, InstanceNaming("x_y")}}) {
    auto decoded = decode_session_records(encode_session_records({record}), naming);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == EBADMSG);
    CHECK(decoded.error().message.find("its scope is not " + naming.scope_name("0123456789ab")) != std::string::npos);
  }
}

TEST_CASE("instance X adopts its own sessions and leaves a scope that is not its own alone") {
  ManagerFixture f;
  f.backend.instance = InstanceNaming("x");
  pid_t kept = f.launcher.add_running("aaaaaaaaaaaa");
  f.backend.add_leftover("corral-x-aaaaaaaaaaaa", kept);
  REQUIRE(save_session_records(session_records_path(f.state.path()),
                               {record_for("corral-x-aaaaaaaaaaaa", "aaaaaaaaaaaa", kept,
                                           f.launcher.browser(kept).start_time)})
              .ok());
  f.backend.add_leftover("corral-x-bbbbbbbbbbbb", f.launcher.add_running("bbbbbbbbbbbb"));  // no record: reaped
  // The fake lists every scope it holds; a real backend lists only X's. Not
  // X's, so never reaped, whatever a backend returned.
  f.backend.add_leftover("corral-cccccccccccc", f.launcher.add_running("cccccccccccc"));

  auto report = f.manager().recover();
  REQUIRE(report.ok());
  CHECK(report->adopted == 1);
  CHECK(report->reaped == 1);
  CHECK(f.manager().list().size() == 1);
  CHECK(f.manager().get("aaaaaaaaaaaa")->scope.name == "corral-x-aaaaaaaaaaaa");
  CHECK_FALSE(f.backend.has("corral-x-bbbbbbbbbbbb"));
  CHECK(f.backend.has("corral-cccccccccccc"));
  CHECK(f.backend.kills == 1);
  REQUIRE(f.manager().close("aaaaaaaaaaaa", milliseconds(0)).ok());
}
