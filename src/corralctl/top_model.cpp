#include "top_model.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace corralctl {
using nlohmann::json;

namespace {

std::optional<uint64_t> number(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) return std::nullopt;
  return object[key].get<uint64_t>();
}

std::optional<double> seconds_between(const json& from, const json& to) {
  if (!from.is_string() || !to.is_string()) return std::nullopt;
  auto start = parse_timestamp(from.get<std::string>()), end = parse_timestamp(to.get<std::string>());
  if (!start || !end) return std::nullopt;
  return *end - *start;
}

std::optional<double> cpu_percent(std::optional<uint64_t> now, std::optional<uint64_t> before, double seconds) {
  if (!now || !before || seconds <= 0 || *now < *before) return std::nullopt;
  return (*now - *before) / 1e4 / seconds;  // µs per s of wall time, as % of one CPU
}

// The nearer deadline: the ttl's or the idle timeout's.
std::optional<double> expires_in(const json& session, const json& daemon_time) {
  auto ttl = seconds_between(daemon_time, session.value("expires_at", json()));
  auto idle = seconds_between(daemon_time, session.value("idle_expires_at", json()));
  if (ttl && idle) return std::min(*ttl, *idle);
  return ttl ? ttl : idle;
}

TopRow make_row(const json& session, const json& daemon_time) {
  TopRow row;
  row.id = session.value("id", "");
  row.kind = session.value("kind", "");
  row.state = session.value("state", "");
  if (session.contains("labels") && session["labels"].is_object())
    for (const auto& [key, value] : session["labels"].items())
      if (value.is_string()) row.labels[key] = value.get<std::string>();
  json stats = session.value("stats", json::object());
  json limits = session.value("limits", json::object());
  row.memory = number(stats, "memory_current");
  row.memory_peak = number(stats, "memory_peak");
  row.cpu_usec = number(stats, "cpu_usage_usec");
  row.processes = number(stats, "pids");
  row.oom_kills = number(stats, "oom_kills");
  row.memory_max = number(limits, "memory_max");
  row.tasks_max = number(limits, "tasks_max");
  row.age_seconds = seconds_between(session.value("created_at", json()), daemon_time);
  row.expires_in_seconds = expires_in(session, daemon_time);
  row.network_in = number(stats, "network_bytes_in");
  row.network_out = number(stats, "network_bytes_out");
  return row;
}

// Missing values sort last whichever way the rows go.
template <class T>
bool before_in_order(const std::optional<T>& a, const std::optional<T>& b, bool ascending) {
  if (!a || !b) return a.has_value() && !b.has_value();
  return ascending ? *a < *b : *a > *b;
}

void sort_rows(std::vector<TopRow>& rows, SortKey key, bool reverse) {
  bool ascending = (key == SortKey::expiry || key == SortKey::id) != reverse;
  std::stable_sort(rows.begin(), rows.end(), [&](const TopRow& a, const TopRow& b) {
    switch (key) {
      case SortKey::memory: return before_in_order(a.memory, b.memory, ascending);
      case SortKey::peak: return before_in_order(a.memory_peak, b.memory_peak, ascending);
      case SortKey::cpu: return before_in_order(a.cpu_percent, b.cpu_percent, ascending);
      case SortKey::processes: return before_in_order(a.processes, b.processes, ascending);
      case SortKey::oom: return before_in_order(a.oom_kills, b.oom_kills, ascending);
      case SortKey::age: return before_in_order(a.age_seconds, b.age_seconds, ascending);
      case SortKey::expiry: return before_in_order(a.expires_in_seconds, b.expires_in_seconds, ascending);
      case SortKey::id: return ascending ? a.id < b.id : a.id > b.id;
    }
    return false;
  });
}

std::optional<double> pressure_avg10(const json& all_sessions, const char* resource) {
  const json& pressure = all_sessions.value(resource, json());
  if (!pressure.is_object() || !pressure.contains("some") || !pressure["some"].is_object()) return std::nullopt;
  return pressure["some"].value("avg10", 0.0);
}

// "chrome 2/2 ready, 7 hits, 1 miss, 0 discarded, refill 412 ms" per kind.
std::string warm_summary(const json& warm) {
  std::string text;
  if (!warm.is_object()) return text;
  for (const auto& [kind, pool] : warm.items()) {
    if (!pool.is_object()) continue;
    auto count = [&pool](const char* key) { return std::to_string(number(pool, key).value_or(0)); };
    if (!text.empty()) text += "; ";
    text += kind + " " + count("ready") + "/" + count("target") + " ready, " + count("hits") + " hits, " +
            count("misses") + " misses, " + count("discarded") + " discarded";
    const json& refill = pool.value("last_refill_ms", json());
    if (refill.is_number()) text += ", refill " + std::to_string(static_cast<long>(refill.get<double>())) + " ms";
  }
  return text;
}

TopTotals make_totals(const Sample& now, const Sample* before, double seconds) {
  TopTotals totals;
  const json& admission = now.usage.value("admission", json::object());
  const json& all = now.usage.value("all_sessions", json::object());
  totals.open_sessions = now.usage.value("open_sessions", now.sessions.size());
  totals.max_sessions = number(admission, "max_sessions");
  totals.memory_budget = number(admission, "memory_budget");
  totals.memory_budget_used = number(admission, "memory_budget_used").value_or(0);
  totals.all_memory = number(all, "memory_current");
  totals.all_memory_max = number(all, "memory_max");
  if (before)
    totals.all_cpu_percent =
        cpu_percent(number(all, "cpu_usage_usec"),
                    number(before->usage.value("all_sessions", json::object()), "cpu_usage_usec"), seconds);
  totals.memory_pressure = pressure_avg10(all, "memory_pressure");
  totals.cpu_pressure = pressure_avg10(all, "cpu_pressure");
  totals.warm = warm_summary(now.usage.value("warm", json::object()));
  return totals;
}

void add_row_totals(const std::vector<TopRow>& rows, TopTotals& totals) {
  for (const auto& row : rows) {
    if (row.memory) totals.memory = totals.memory.value_or(0) + *row.memory;
    if (row.cpu_percent) totals.cpu_percent = totals.cpu_percent.value_or(0) + *row.cpu_percent;
    totals.processes += row.processes.value_or(0);
    if (row.network_in) totals.network_in = totals.network_in.value_or(0) + *row.network_in;
    if (row.network_out) totals.network_out = totals.network_out.value_or(0) + *row.network_out;
  }
}

}  // namespace

std::optional<double> parse_timestamp(const std::string& text) {
  std::tm utc{};
  int milliseconds = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                  &utc.tm_min, &utc.tm_sec, &milliseconds) != 7)
    return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return static_cast<double>(timegm(&utc)) + milliseconds / 1000.0;
}

std::optional<SortKey> parse_sort_key(const std::string& name) {
  static const std::map<std::string, SortKey> keys = {
      {"memory", SortKey::memory}, {"peak", SortKey::peak}, {"cpu", SortKey::cpu},
      {"pids", SortKey::processes}, {"processes", SortKey::processes}, {"oom", SortKey::oom},
      {"age", SortKey::age}, {"expiry", SortKey::expiry}, {"id", SortKey::id}};
  auto it = keys.find(name);
  if (it == keys.end()) return std::nullopt;
  return it->second;
}

const char* sort_key_name(SortKey key) {
  switch (key) {
    case SortKey::memory: return "memory";
    case SortKey::peak: return "peak";
    case SortKey::cpu: return "cpu";
    case SortKey::processes: return "pids";
    case SortKey::oom: return "oom";
    case SortKey::age: return "age";
    case SortKey::expiry: return "expiry";
    case SortKey::id: return "id";
  }
  return "?";
}

TopFrame build_frame(const Sample& now, const Sample* before, SortKey key, bool reverse) {
  double seconds = before ? std::chrono::duration<double>(now.taken - before->taken).count() : 0;
  std::map<std::string, uint64_t> earlier_cpu;
  if (before)
    for (const auto& session : before->sessions)
      if (auto cpu = number(session.value("stats", json::object()), "cpu_usage_usec"))
        earlier_cpu[session.value("id", "")] = *cpu;
  TopFrame frame;
  json daemon_time = now.usage.value("time", json());
  for (const auto& session : now.sessions) {
    TopRow row = make_row(session, daemon_time);
    if (auto it = earlier_cpu.find(row.id); it != earlier_cpu.end())
      row.cpu_percent = cpu_percent(row.cpu_usec, it->second, seconds);
    frame.rows.push_back(std::move(row));
  }
  sort_rows(frame.rows, key, reverse);
  frame.totals = make_totals(now, before, seconds);
  add_row_totals(frame.rows, frame.totals);
  return frame;
}

}  // namespace corralctl
