#include <doctest/doctest.h>

#include "top_model.hpp"
#include "top_render.hpp"

using namespace corralctl;
using nlohmann::json;

namespace {

json session(const std::string& id, json stats, json limits = json::object(), json labels = json::object()) {
  return {{"id", id}, {"kind", "chrome"}, {"state", "running"}, {"stats", stats}, {"limits", limits},
          {"labels", labels}, {"created_at", "2026-12-01T10:00:00.000Z"},
          {"expires_at", "2026-12-01T11:00:00.000Z"}, {"idle_expires_at", "2026-12-01T10:05:00.000Z"}};
}

Sample sample(json sessions, std::chrono::steady_clock::time_point at, json usage = json::object()) {
  if (!usage.contains("time")) usage["time"] = "2026-12-01T10:01:00.000Z";
  return Sample{sessions, usage, at};
}

const auto kStart = std::chrono::steady_clock::time_point() + std::chrono::hours(1);

}  // namespace

TEST_CASE("build_frame: CPU % from two samples, age and the nearer expiry from the daemon's clock") {
  auto before = sample(json::array({session("a", {{"cpu_usage_usec", 1000000}, {"pids", 5}})}), kStart);
  auto now = sample(json::array({session("a", {{"cpu_usage_usec", 1500000}, {"pids", 5}}),
                                 session("b", {{"cpu_usage_usec", 9}, {"pids", 2}})}),
                    kStart + std::chrono::seconds(2));
  auto frame = build_frame(now, &before, SortKey::cpu, false);
  REQUIRE(frame.rows.size() == 2);
  CHECK(frame.rows[0].id == "a");
  CHECK(*frame.rows[0].cpu_percent == doctest::Approx(25.0));  // 0.5 s of CPU in 2 s
  CHECK_FALSE(frame.rows[1].cpu_percent);                       // new: no span yet
  CHECK(*frame.rows[0].age_seconds == doctest::Approx(60));
  CHECK(*frame.rows[0].expires_in_seconds == doctest::Approx(240));  // idle (10:05) before ttl (11:00)
  CHECK(frame.totals.processes == 7);
  CHECK(*frame.totals.cpu_percent == doctest::Approx(25.0));
  CHECK_FALSE(frame.totals.memory);  // no session has memory: no made-up total
}

TEST_CASE("build_frame sorts largest first, missing values last, and reverses") {
  auto now = sample(json::array({session("a", {{"memory_current", 10}}), session("b", {{"memory_current", nullptr}}),
                                 session("c", {{"memory_current", 30}})}),
                    kStart);
  auto ids = [](const TopFrame& frame) {
    std::string order;
    for (const auto& row : frame.rows) order += row.id;
    return order;
  };
  CHECK(ids(build_frame(now, nullptr, SortKey::memory, false)) == "cab");
  CHECK(ids(build_frame(now, nullptr, SortKey::memory, true)) == "acb");
  CHECK(ids(build_frame(now, nullptr, SortKey::id, false)) == "abc");
  CHECK(*build_frame(now, nullptr, SortKey::memory, false).totals.memory == 40);
}

TEST_CASE("build_frame totals: admission limits and the all-sessions cgroup") {
  json usage = {{"open_sessions", 3},
                {"admission", {{"max_sessions", 10}, {"memory_budget", 4096}, {"memory_budget_used", 1024}}},
                {"all_sessions",
                 {{"memory_current", 2048}, {"memory_max", nullptr}, {"cpu_usage_usec", 3000000},
                  {"memory_pressure", {{"some", {{"avg10", 1.5}}}, {"full", nullptr}}}, {"cpu_pressure", nullptr}}}};
  auto before = sample(json::array(), kStart, {{"all_sessions", {{"cpu_usage_usec", 1000000}}}});
  auto frame = build_frame(sample(json::array(), kStart + std::chrono::seconds(1), usage), &before, SortKey::memory,
                           false);
  CHECK(frame.totals.open_sessions == 3);
  CHECK(*frame.totals.max_sessions == 10);
  CHECK(*frame.totals.memory_budget == 4096);
  CHECK(frame.totals.memory_budget_used == 1024);
  CHECK(*frame.totals.all_memory == 2048);
  CHECK_FALSE(frame.totals.all_memory_max);
  CHECK(*frame.totals.all_cpu_percent == doctest::Approx(200.0));
  CHECK(*frame.totals.memory_pressure == doctest::Approx(1.5));
  CHECK_FALSE(frame.totals.cpu_pressure);
}

TEST_CASE("build_frame totals: the warm pool in one phrase per kind, none without one") {
  json usage = {{"warm", {{"chrome", {{"target", 4}, {"ready", 3}, {"hits", 7}, {"misses", 1}, {"discarded", 2},
                                      {"last_refill_ms", 412.6}, {"frozen", true}}}}}};
  auto frame = build_frame(sample(json::array(), kStart, usage), nullptr, SortKey::memory, false);
  CHECK(frame.totals.warm == "chrome 3/4 ready, 7 hits, 1 misses, 2 discarded, refill 412 ms");
  CHECK(build_frame(sample(json::array(), kStart), nullptr, SortKey::memory, false).totals.warm.empty());
}

TEST_CASE("parse_sort_key knows every key it names") {
  for (auto key : {SortKey::memory, SortKey::peak, SortKey::cpu, SortKey::processes, SortKey::oom, SortKey::age,
                   SortKey::expiry, SortKey::id})
    CHECK(parse_sort_key(sort_key_name(key)) == key);
  CHECK_FALSE(parse_sort_key("bogus"));
}

TEST_CASE("render_frame fits the screen: no line wider, no more lines than it has") {
  json sessions = json::array();
  for (int i = 0; i < 30; ++i)
    sessions.push_back(session("s" + std::to_string(i), {{"pids", i}}, {{"tasks_max", 64}}, {{"bot", "crawler"}}));
  auto frame = build_frame(sample(sessions, kStart), nullptr, SortKey::processes, false);
  auto lines = render_frame(frame, FrameContext{"http://127.0.0.1:8420", "10:01:00", "", SortKey::processes},
                            Screen{60, 15});
  CHECK(lines.size() == 15);
  for (const auto& line : lines) CHECK(line.size() <= 60);
  CHECK(lines[4].rfind("s29", 0) == 0);  // largest first, after 2 header lines, a blank and the titles
  bool counted = false;
  for (const auto& line : lines) counted = counted || line.find("more sessions") != std::string::npos;
  CHECK(counted);
  CHECK(render_frame(frame, FrameContext{}, Screen{80, 3}).size() == 3);
  auto all = render_frame(frame, FrameContext{}, Screen{});
  CHECK(all.size() == 30 + 6);
}

TEST_CASE("human_bytes and human_duration") {
  CHECK(human_bytes(std::nullopt) == "-");
  CHECK(human_bytes(512) == "512B");
  CHECK(human_bytes(1536ull << 20) == "1.5G");
  CHECK(human_bytes(300ull << 20) == "300M");
  CHECK(human_duration(45.9) == "45s");
  CHECK(human_duration(3725) == "1h02m");
  CHECK(human_duration(-1) == "now");
}
