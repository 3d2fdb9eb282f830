// What `corralctl top` shows, computed from what corrald answered: one row
// per session and the totals, with CPU % from two samples. Pure: no I/O,
// so unit tests feed it JSON (tests/unit/corralctl/test_top_model.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace corralctl {

/// One poll of corrald: GET /v1/sessions and GET /v1/usage, and when.
struct Sample {
  nlohmann::json sessions = nlohmann::json::array();  ///< the "sessions" array
  nlohmann::json usage = nlohmann::json::object();    ///< the /v1/usage body
  std::chrono::steady_clock::time_point taken;
};

struct TopRow {
  std::string id, kind, state;
  std::map<std::string, std::string> labels;
  std::optional<uint64_t> memory, memory_peak, memory_max;
  std::optional<double> cpu_percent;  ///< of one CPU, since the previous sample
  std::optional<uint64_t> cpu_usec;
  std::optional<uint64_t> processes, tasks_max, oom_kills;
  std::optional<double> age_seconds;
  std::optional<double> expires_in_seconds;  ///< the nearer of ttl and idle timeout
  std::optional<uint64_t> network_in, network_out;  ///< bytes through its way out; none without one
};

struct TopTotals {
  size_t open_sessions = 0;
  std::optional<uint64_t> max_sessions, memory_budget;
  uint64_t memory_budget_used = 0;
  std::optional<uint64_t> memory;  ///< summed over rows that have it
  uint64_t processes = 0;
  std::optional<uint64_t> network_in, network_out;  ///< summed over rows that have them
  std::optional<double> cpu_percent;  ///< summed over rows that have it
  std::optional<uint64_t> all_memory, all_memory_max;  ///< the all-sessions cgroup
  std::optional<double> all_cpu_percent;
  std::optional<double> memory_pressure, cpu_pressure;  ///< "some" avg10, in %
  /// The warm pool, one phrase per kind kept warm ("chrome 2/2 ready ...");
  /// empty without --warm.
  std::string warm;
};

struct TopFrame {
  std::vector<TopRow> rows;
  TopTotals totals;
};

enum class SortKey { memory, peak, cpu, processes, oom, age, expiry, id };

/// "memory", "peak", "cpu", "pids" (or "processes"), "oom", "age", "expiry", "id".
std::optional<SortKey> parse_sort_key(const std::string& name);
const char* sort_key_name(SortKey key);

/// Rows sorted by `key`, largest first (soonest first for expiry, A-Z for
/// id), or the other way with `reverse`. `before`, if any, gives CPU %.
TopFrame build_frame(const Sample& now, const Sample* before, SortKey key, bool reverse);

/// Seconds since the epoch of an RFC 3339 UTC time as corrald writes it.
std::optional<double> parse_timestamp(const std::string& text);

}  // namespace corralctl
