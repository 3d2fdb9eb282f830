// The warm pool on fakes: --warm's parsing, the hit rule, admission giving
// places back, and a manager whose pool starts, freezes, hands out, misses
// and refills.
#include <doctest/doctest.h>

#include <optional>
#include <thread>

#include "corral/egress/egress_rule.hpp"
#include "corral/session/records.hpp"
#include "corral/session/warm_pool.hpp"
#include "fakes/manager_fixture.hpp"

using namespace corral;
using namespace corral::testing;
using namespace std::chrono;

TEST_CASE("--warm takes chrome=N and chromedriver=N") {
  auto targets = parse_warm_targets("chrome=4");
  REQUIRE(targets.ok());
  CHECK(targets->at(BrowserKind::chrome) == 4u);
  auto both = parse_warm_targets("chrome=1,chromedriver=2");
  REQUIRE(both.ok());
  CHECK(both->at(BrowserKind::chrome) == 1u);
  CHECK(both->at(BrowserKind::chromedriver) == 2u);
  for (const char* bad : {"", "chrome", "chrome=", "chrome=-1", "chrome=x", "firefox=1", "chrome=1,chrome=2",
                          "chromedriver=1,chromedriver=1"})
    CHECK_FALSE(parse_warm_targets(bad).ok());
}

TEST_CASE("a hit asks nothing a warm browser lacks: limits, labels and leases are set at hand-out") {
  SessionRequest plain;
  plain.limits.memory_max = 1u << 30;
  plain.labels["bot"] = "b";
  plain.ttl = minutes(5);
  plain.network_max_bytes = 1000;
  CHECK_FALSE(warm_miss_reason(plain));
  SessionRequest args;
  args.args = {"--window-size=800,600"};
  CHECK(warm_miss_reason(args));
  // A kind=chromedriver open is a hit only as a WebDriver new session whose
  // capabilities attaching honours (capabilities.cpp clears the reason).
  SessionRequest driver;
  driver.kind = BrowserKind::chromedriver;
  REQUIRE(warm_miss_reason(driver));
  CHECK(*warm_miss_reason(driver) == "it is not a WebDriver new session");
  driver.warm_attach_miss.clear();
  driver.labels["bot"] = "b";
  CHECK_FALSE(warm_miss_reason(driver));
  driver.egress.deny.push_back(*parse_egress_rule("203.0.113.0/24"));
  CHECK(warm_miss_reason(driver));
  SessionRequest narrowed;
  narrowed.egress.deny.push_back(*parse_egress_rule("203.0.113.0/24"));
  CHECK(warm_miss_reason(narrowed));
}

TEST_CASE("admission asks for places back before it refuses, and a warm take never waits") {
  Admission admission({2, std::nullopt, 4});
  std::vector<Admission::Ticket> warm;
  for (int i = 0; i < 2; ++i) {
    auto taken = admission.try_take(0);
    REQUIRE(taken.ok());
    warm.push_back(std::move(*taken));
  }
  CHECK_FALSE(admission.try_take(0).ok());
  int asked = 0;
  admission.set_reclaim([&] {
    ++asked;
    if (warm.empty()) return false;
    warm.pop_back();  // releases its ticket
    return true;
  });
  auto first = admission.admit(0, milliseconds(0));
  auto second = admission.admit(0, milliseconds(0));
  CHECK(first.ok());
  CHECK(second.ok());
  auto third = admission.admit(0, milliseconds(0));
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().code == ENOSPC);
  CHECK(asked == 3);
}

TEST_CASE("a ticket's memory is resized within the budget only") {
  Admission admission({0, 3u << 30, 4});
  auto ticket = admission.admit(1u << 30, milliseconds(0));
  REQUIRE(ticket.ok());
  CHECK(admission.resize(*ticket, 2u << 30));
  CHECK(admission.memory() == 2u << 30);
  auto other = admission.admit(1u << 30, milliseconds(0));
  REQUIRE(other.ok());
  CHECK_FALSE(admission.resize(*ticket, 3u << 30));
  CHECK(admission.memory() == 3u << 30);
}

TEST_CASE("the pool starts frozen members, hands one to a plain open and refills; args are a miss") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chrome] = 1;
  REQUIRE(f.manager().recover().ok());
  auto ready = [&] { return f.manager().warm_status().at(0).ready == 1; };
  REQUIRE(eventually(ready, seconds(5)));
  CHECK(f.manager().list().empty());
  CHECK(f.manager().open_count() == 0);
  SessionRequest request;
  request.limits.memory_max = 256u << 20;
  request.labels["bot"] = "w";
  auto claimed = f.open_ok(request);
  CHECK_FALSE(f.backend.frozen(claimed.scope.name));
  CHECK(f.backend.limits_of(claimed.scope.name).memory_max == 256u << 20);
  CHECK(claimed.request.labels.at("bot") == "w");
  CHECK(f.launcher.browser(claimed.pid).network_count_restarts == 1);  // it owes nothing it moved while warm
  CHECK(f.manager().list().size() == 1);
  CHECK(f.manager().warm_status().at(0).hits == 1u);
  REQUIRE(eventually(ready, seconds(5)));
  SessionRequest with_args;
  with_args.args = {"--window-size=800,600"};
  auto cold = f.open_ok(with_args);
  CHECK(f.manager().warm_status().at(0).misses == 1u);
  CHECK(f.manager().warm_status().at(0).ready == 1u);  // a miss with room takes no member
  CHECK(f.manager().close(claimed.id, milliseconds(0)).ok());
  CHECK(f.manager().close(cold.id, milliseconds(0)).ok());
  f.manager().close_all();
  CHECK(f.host_is_clean());
}

TEST_CASE("a member whose way out cannot cap (the kernel way out) is not handed to a request with a byte cap") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chrome] = 1;
  f.config.network_counted = true;
  f.launcher.ways_out_cannot_cap = true;
  REQUIRE(f.manager().recover().ok());
  auto ready = [&] { return f.manager().warm_status().at(0).ready == 1; };
  REQUIRE(eventually(ready, seconds(5)));
  SessionRequest capped;
  capped.network_max_bytes = 5u << 20;
  auto cold = f.open_ok(capped);
  CHECK(f.manager().warm_status().at(0).hits == 0u);
  CHECK(f.manager().warm_status().at(0).misses == 1u);
  CHECK(f.manager().warm_status().at(0).ready == 1u);  // the member waits on for a request it can serve
  CHECK(f.launcher.browser(cold.pid).network_cap == 5u << 20);
  auto plain = f.open_ok(SessionRequest{});
  CHECK(f.manager().warm_status().at(0).hits == 1u);
  CHECK(f.manager().close(cold.id, milliseconds(0)).ok());
  CHECK(f.manager().close(plain.id, milliseconds(0)).ok());
  f.manager().close_all();
  CHECK(f.host_is_clean());
}

TEST_CASE("a member still starting gives its place to a cold open at once, and is ended once its start returns") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chrome] = 1;
  f.config.admission.max_sessions = 1;
  f.launcher.hold_ready();  // the member's start takes as long as the test likes
  REQUIRE(f.manager().recover().ok());
  REQUIRE(eventually([&] { return f.launcher.waiting_for_ready() == 1; }, seconds(5)));
  SessionRequest with_args;  // a miss: it needs a start of its own, and the only place
  with_args.args = {"--window-size=800,600"};
  std::optional<Result<SessionInfo>> opened;
  std::thread opener([&] { opened = f.manager().open(with_args); });
  // The cold open is admitted at once, and waits for ready like the member.
  REQUIRE(eventually([&] { return f.launcher.waiting_for_ready() == 2; }, seconds(5)));
  f.launcher.release_ready();
  opener.join();
  REQUIRE(opened->ok());
  CHECK(f.manager().warm_status().at(0).discarded == 1u);
  CHECK(f.manager().warm_status().at(0).ready == 0u);  // no room for another while the session runs
  REQUIRE(eventually([&] { return f.launcher.alive_count() == 1; }, seconds(5)));  // the member ended
  CHECK(f.manager().close((*opened)->id, milliseconds(0)).ok());
  f.manager().close_all();
  CHECK(f.host_is_clean());
}

TEST_CASE("a warm member is not a session: its id is unknown to get and close") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chrome] = 1;
  REQUIRE(f.manager().recover().ok());
  REQUIRE(eventually([&] { return f.manager().warm_status().at(0).ready == 1; }, seconds(5)));
  REQUIRE(f.backend.count() == 1);
  auto records = load_session_records(session_records_path(f.config.state_dir));
  REQUIRE(records.ok());
  REQUIRE(records->size() == 1);
  CHECK(records->front().warm);
  const auto& id = records->front().info.id;
  CHECK(f.backend.frozen("corral-" + id));
  CHECK(f.manager().get(id).error().code == ENOENT);
  CHECK(f.manager().close(id, milliseconds(0)).error().code == ENOENT);
  f.manager().close_all();
  CHECK(f.host_is_clean());
}

namespace {

// What the WebDriver proxy opens for a new session that is a hit.
SessionRequest warm_driver_request() {
  SessionRequest request;
  request.kind = BrowserKind::chromedriver;
  request.warm_attach_miss.clear();
  request.labels["bot"] = "attach";
  request.limits.memory_max = 256u << 20;
  return request;
}

}  // namespace

TEST_CASE("a warm chromedriver's hit is counted once its attach took, not at its claim") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chromedriver] = 1;
  f.config.warm_driver_session = "{}";
  REQUIRE(f.manager().recover().ok());
  REQUIRE(eventually([&] { return f.manager().warm_status().at(0).ready == 1; }, seconds(5)));
  auto claimed = f.open_ok(warm_driver_request());
  CHECK(claimed.warm_browser_port == 9333);
  CHECK(f.manager().warm_status().at(0).hits == 0u);
  f.manager().warm_attach_succeeded(BrowserKind::chromedriver);
  CHECK(f.manager().warm_status().at(0).hits == 1u);
  CHECK(f.manager().warm_status().at(0).misses == 0u);
  CHECK(f.manager().close(claimed.id, milliseconds(0)).ok());
  f.manager().close_all();
  CHECK(f.host_is_clean());
}

TEST_CASE("a claimed warm chromedriver whose attach failed ends, is a miss, and its request opens cold in its place") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chromedriver] = 1;
  f.config.warm_driver_session = "{}";
  f.config.admission.max_sessions = 1;  // the member's place is the only one
  f.launcher.use_uid_pool(2);
  REQUIRE(f.manager().recover().ok());
  REQUIRE(eventually([&] { return f.manager().warm_status().at(0).ready == 1; }, seconds(5)));
  auto request = warm_driver_request();
  auto claimed = f.open_ok(request);
  REQUIRE(claimed.warm_browser_port != 0);
  // Another open waits for room (a chrome one: no warm count). A place
  // given back would be its; the cold start keeps the member's, no wait.
  std::optional<Result<SessionInfo>> other;
  std::thread waiting([&] { other = f.manager().open({}, milliseconds(1500)); });
  REQUIRE(eventually([&] { return f.manager().gauges().admission_queued == 1; }, seconds(5)));
  auto cold = f.manager().open_cold_after_failed_attach(claimed.id, request, "chromedriver answered 500", milliseconds(0));
  waiting.join();
  REQUIRE(cold.ok());
  CHECK(other->error().code == ENOSPC);  // the bot's place stayed the bot's
  CHECK(cold->id != claimed.id);
  CHECK(cold->warm_browser_port == 0);  // not from the pool: a second failure is the bot's
  CHECK(cold->request.labels.at("bot") == "attach");
  CHECK(cold->limits.memory_max == 256u << 20);
  REQUIRE(eventually([&] { return f.state_of(claimed.id) == SessionState::closed; }, seconds(5)));
  auto ended = f.manager().get(claimed.id);
  REQUIRE(ended.ok());
  CHECK(ended->report->reason == CloseReason::start_failed);
  auto status = f.manager().warm_status().at(0);
  CHECK(status.misses == 1u);
  CHECK(status.hits == 0u);
  CHECK(status.discarded == 0u);  // it was handed out: a failed session, not a discarded member
  CHECK(f.manager().list().size() == 1);
  REQUIRE(eventually([&] { return f.launcher.alive_count() == 1; }, seconds(5)));  // the cold one only
  CHECK(f.manager().warm_status().at(0).ready == 0u);  // no room for a member while the cold session runs
  CHECK(f.manager().close(cold->id, milliseconds(0)).ok());
  REQUIRE(eventually([&] { return f.manager().warm_status().at(0).ready == 1; }, seconds(5)));  // room again: refilled
  f.manager().close_all();
  CHECK(f.host_is_clean());
  CHECK(f.launcher.uid_pool().in_use == 0u);
}

TEST_CASE("a failed attach whose member ends already waits for the place that end frees") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chromedriver] = 1;
  f.config.warm_driver_session = "{}";
  f.config.admission.max_sessions = 1;
  REQUIRE(f.manager().recover().ok());
  REQUIRE(eventually([&] { return f.manager().warm_status().at(0).ready == 1; }, seconds(5)));
  auto request = warm_driver_request();
  auto claimed = f.open_ok(request);
  // Its chromedriver died (that is why the attach failed): its own end frees the place.
  CHECK(f.manager().close_in_background(claimed.id, milliseconds(0), CloseReason::browser_exited).ok());
  auto cold = f.manager().open_cold_after_failed_attach(claimed.id, request, "chromedriver did not answer", seconds(5));
  REQUIRE(cold.ok());
  CHECK(cold->id != claimed.id);
  CHECK(f.manager().warm_status().at(0).misses == 1u);
  CHECK(f.manager().close(cold->id, milliseconds(0)).ok());
  f.manager().close_all();
  CHECK(f.host_is_clean());
}

TEST_CASE("a failed attach whose cold start fails too answers the error and leaks no place or uid") {
  ManagerFixture f;
  f.config.warm[BrowserKind::chromedriver] = 1;
  f.config.warm_driver_session = "{}";
  f.config.admission.max_sessions = 1;
  f.launcher.use_uid_pool(2);
  REQUIRE(f.manager().recover().ok());
  REQUIRE(eventually([&] { return f.manager().warm_status().at(0).ready == 1; }, seconds(5)));
  auto request = warm_driver_request();
  auto claimed = f.open_ok(request);
  f.launcher.fail_spawn = Error::make(ENOEXEC, "no browser");
  auto cold = f.manager().open_cold_after_failed_attach(claimed.id, request, "chromedriver answered 500", milliseconds(0));
  REQUIRE_FALSE(cold.ok());
  CHECK(cold.error().code == ENOEXEC);
  CHECK(f.manager().warm_status().at(0).misses == 1u);
  REQUIRE(eventually([&] { return f.state_of(claimed.id) == SessionState::closed; }, seconds(5)));
  CHECK(f.manager().list().empty());
  f.launcher.fail_spawn.reset();
  // The place came back: the pool refills it.
  REQUIRE(eventually([&] { return f.manager().warm_status().at(0).ready == 1; }, seconds(5)));
  f.manager().close_all();
  CHECK(f.host_is_clean());
  CHECK(f.launcher.uid_pool().in_use == 0u);
}
