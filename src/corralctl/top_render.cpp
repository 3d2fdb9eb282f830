#include "top_render.hpp"

#include <cmath>
#include <cstdio>

#include "corral/util/json_optional.hpp"

namespace corralctl {
using nlohmann::json;

namespace {

constexpr const char* kRowFormat = "%-12s %-6s %8s %8s %8s %6s %9s %4s %7s %7s %7s %7s  %s";

std::string format(const char* pattern, double value) {
  char text[32];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string or_dash(const std::optional<uint64_t>& value) { return value ? std::to_string(*value) : "-"; }

std::string percent(const std::optional<double>& value) { return value ? format("%.1f", *value) : "-"; }

std::string with_sign(const std::optional<double>& value) { return value ? percent(value) + "%" : "-"; }

std::string labels_text(const std::map<std::string, std::string>& labels) {
  std::string text;
  for (const auto& [key, value] : labels) text += (text.empty() ? "" : ",") + key + "=" + value;
  return text.empty() ? "-" : text;
}

std::string processes_text(const TopRow& row) {
  return or_dash(row.processes) + (row.tasks_max ? "/" + std::to_string(*row.tasks_max) : "");
}

std::string row_line(const TopRow& row) {
  std::string kind = row.kind == "chromedriver" ? "driver" : row.kind.substr(0, 6);
  std::string id = row.state == "running" ? row.id : row.id + "*";
  char line[512];
  std::snprintf(line, sizeof line, kRowFormat, id.c_str(), kind.c_str(), human_bytes(row.memory).c_str(),
                human_bytes(row.memory_peak).c_str(), human_bytes(row.memory_max).c_str(),
                percent(row.cpu_percent).c_str(), processes_text(row).c_str(), or_dash(row.oom_kills).c_str(),
                human_duration(row.age_seconds).c_str(), human_duration(row.expires_in_seconds).c_str(),
                human_bytes(row.network_in).c_str(), human_bytes(row.network_out).c_str(),
                labels_text(row.labels).c_str());
  return line;
}

std::string against(const std::string& used, const std::string& limit) { return used + "/" + limit; }

std::vector<std::string> header_lines(const TopFrame& frame, const FrameContext& context) {
  const TopTotals& t = frame.totals;
  std::string sessions = std::to_string(t.open_sessions);
  if (t.max_sessions) sessions = against(sessions, std::to_string(*t.max_sessions));
  std::string first = "corral top  " + context.url + "  " + context.clock + "  sessions " + sessions;
  if (t.memory_budget) first += "  budget " + against(human_bytes(t.memory_budget_used), human_bytes(t.memory_budget));
  std::string second = "all sessions: memory " + against(human_bytes(t.all_memory), human_bytes(t.all_memory_max)) +
                       "  cpu " + with_sign(t.all_cpu_percent) + "  pressure some avg10: memory " +
                       with_sign(t.memory_pressure) + " cpu " + with_sign(t.cpu_pressure);
  std::vector<std::string> lines = {first, second};
  if (!t.warm.empty()) lines.push_back("warm: " + t.warm);
  if (!context.problem.empty()) lines.push_back("!! " + context.problem);
  char titles[256];
  std::snprintf(titles, sizeof titles, kRowFormat, "ID", "KIND", "MEM", "PEAK", "MAX", "CPU%", "PROCS", "OOM", "AGE",
                "EXPIRES", "NET IN", "NET OUT", "LABELS");
  lines.emplace_back("");
  lines.emplace_back(titles);
  return lines;
}

std::string totals_line(const TopFrame& frame) {
  const TopTotals& t = frame.totals;
  char line[256];
  std::string name = "TOTAL " + std::to_string(frame.rows.size());
  std::snprintf(line, sizeof line, kRowFormat, name.c_str(), "", human_bytes(t.memory).c_str(), "", "",
                percent(t.cpu_percent).c_str(), std::to_string(t.processes).c_str(), "", "", "",
                human_bytes(t.network_in).c_str(), human_bytes(t.network_out).c_str(), "");
  return line;
}

std::string footer_line(const FrameContext& context) {
  std::string line = std::string("sort: ") + sort_key_name(context.sort) + (context.reverse ? " (reversed)" : "");
  if (context.keys_help) line += "   keys: m mem  k peak  c cpu  p procs  o oom  a age  e expiry  i id  r reverse  q quit";
  return line;
}

// Cut to the screen (a wrapped line would push the rest down) and drop
// trailing blanks (the padding of empty columns).
void fit_width(std::vector<std::string>& lines, size_t width) {
  for (auto& line : lines) {
    if (width && line.size() > width) line.resize(width);
    line.erase(line.find_last_not_of(' ') + 1);
  }
}

std::optional<double> milliseconds_exact(std::optional<double> seconds) {
  if (!seconds) return seconds;
  return std::round(*seconds * 1000) / 1000;
}

}  // namespace

std::string human_bytes(std::optional<uint64_t> bytes) {
  if (!bytes) return "-";
  const char* units = "BKMGT";
  double value = static_cast<double>(*bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) value /= 1024, ++unit;
  if (unit == 0) return std::to_string(*bytes) + "B";
  return format(value < 10 ? "%.1f" : "%.0f", value) + units[unit];
}

std::string human_duration(std::optional<double> seconds) {
  if (!seconds) return "-";
  if (*seconds < 0) return "now";
  auto whole = static_cast<long long>(std::floor(*seconds));
  char text[32];
  if (whole < 60) std::snprintf(text, sizeof text, "%llds", whole);
  else if (whole < 3600) std::snprintf(text, sizeof text, "%lldm%02llds", whole / 60, whole % 60);
  else if (whole < 86400) std::snprintf(text, sizeof text, "%lldh%02lldm", whole / 3600, whole / 60 % 60);
  else std::snprintf(text, sizeof text, "%lldd%02lldh", whole / 86400, whole / 3600 % 24);
  return text;
}

std::vector<std::string> render_frame(const TopFrame& frame, const FrameContext& context, Screen screen) {
  auto lines = header_lines(frame, context);
  size_t fixed = lines.size() + 2;  // + totals and footer
  size_t room = screen.height > fixed ? screen.height - fixed : 0;
  size_t shown = screen.height == 0 ? frame.rows.size() : std::min(frame.rows.size(), room);
  // A row that does not fit gives its place to a line that says how many are hidden.
  if (shown < frame.rows.size() && shown > 0) --shown;
  for (size_t i = 0; i < shown; ++i) lines.push_back(row_line(frame.rows[i]));
  if (shown < frame.rows.size()) lines.push_back("... " + std::to_string(frame.rows.size() - shown) + " more sessions");
  lines.push_back(totals_line(frame));
  lines.push_back(footer_line(context));
  fit_width(lines, screen.width);
  // A screen lower than the header: cut, rather than scroll the frame away.
  if (screen.height && lines.size() > screen.height) lines.resize(screen.height);
  return lines;
}

json frame_json(const TopFrame& frame, const std::string& time) {
  const TopTotals& t = frame.totals;
  json sessions = json::array();
  for (const auto& row : frame.rows)
    sessions.push_back({{"id", row.id}, {"kind", row.kind}, {"state", row.state}, {"labels", row.labels},
                        {"memory_current", row.memory}, {"memory_peak", row.memory_peak},
                        {"memory_max", row.memory_max}, {"cpu_percent", row.cpu_percent},
                        {"cpu_usage_usec", row.cpu_usec}, {"pids", row.processes}, {"tasks_max", row.tasks_max},
                        {"oom_kills", row.oom_kills}, {"age_seconds", milliseconds_exact(row.age_seconds)},
                        {"expires_in_seconds", milliseconds_exact(row.expires_in_seconds)},
                        {"network_bytes_in", row.network_in}, {"network_bytes_out", row.network_out}});
  json totals = {{"open_sessions", t.open_sessions}, {"max_sessions", t.max_sessions},
                 {"memory_budget", t.memory_budget}, {"memory_budget_used", t.memory_budget_used},
                 {"memory_current", t.memory}, {"pids", t.processes}, {"cpu_percent", t.cpu_percent},
                 {"network_bytes_in", t.network_in}, {"network_bytes_out", t.network_out},
                 {"all_sessions_memory_current", t.all_memory}, {"all_sessions_memory_max", t.all_memory_max},
                 {"all_sessions_cpu_percent", t.all_cpu_percent},
                 {"memory_pressure_some_avg10", t.memory_pressure}, {"cpu_pressure_some_avg10", t.cpu_pressure}};
  if (!t.warm.empty()) totals["warm"] = t.warm;
  return {{"time", time}, {"totals", totals}, {"sessions", sessions}};
}

}  // namespace corralctl
