#include "corral/api/session_json.hpp"
#include "corral/api/egress_policy_json.hpp"
#include "corral/util/url.hpp"

#include <cmath>
#include <ctime>

namespace corral {
using nlohmann::json;

namespace {

json exit_json(const ExitStatus& status) {
  return {{"code", status.signal || !status.known ? json(nullptr) : json(status.code)},
          {"signal", status.signal ? json(sigabbrev_np(status.signal)) : json(nullptr)},
          {"core_dumped", status.core_dumped},
          {"description", status.describe()}};
}

// A chromedriver-kind session's WebDriver: a base on corral's address that
// a Selenium client takes as its remote URL (corral's checks apply there).
// chromedriver's own loopback URL and secret base are never handed out.
json relayed_webdriver_url(const SessionInfo& session, const std::optional<PublicBase>& base) {
  if (!session.endpoints.webdriver || !base || session.access_secret.empty()) return nullptr;
  return base->http_url(webdriver_base_path(session.id, session.access_secret));
}

}  // namespace


std::string format_timestamp(std::chrono::system_clock::time_point when) {
  auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  std::time_t seconds = milliseconds / 1000;
  std::tm utc;
  gmtime_r(&seconds, &utc);
  char text[40];
  size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03lldZ", static_cast<long long>(milliseconds % 1000));
  return text;
}

json limits_json(const Limits& limits) {
  return {{"memory_max", limits.memory_max},
          {"memory_high", limits.memory_high},
          {"cpu_quota", limits.cpu_percent ? json(std::to_string(*limits.cpu_percent) + "%") : json(nullptr)},
          {"tasks_max", limits.tasks_max}};
}

json stats_json(const CgroupStats& stats) {
  return {{"memory_current", stats.memory_current},
          {"memory_peak", stats.memory_peak},
          {"pids", stats.processes},
          {"cpu_usage_usec", stats.cpu_usage_usec},
          {"oom_kills", stats.oom_kills}};
}

json phases_json(const ClosePhases& phases) {
  // Tenths of a millisecond: enough to see where a 50 ms close goes.
  auto ms = [](double value) { return std::round(value * 10) / 10; };
  return {{"grace", ms(phases.grace)}, {"stats", ms(phases.stats)}, {"kill", ms(phases.kill)},
          {"verify", ms(phases.verify)}, {"scope", ms(phases.scope)}, {"files", ms(phases.files)}};
}

json close_report_json(const CloseReport& report) {
  return {{"id", report.id},
          {"reason", close_reason_name(report.reason)},
          {"graceful", report.graceful},
          {"processes_killed", report.processes_killed},
          {"verified_empty", report.verified_empty},
          {"stuck_pids", report.stuck_pids},
          {"scope_removed", report.scope_removed},
          {"dirs_removed", report.dirs_removed},
          {"duration_ms", report.duration_ms},
          {"phases_ms", phases_json(report.phases)},
          {"memory_peak", report.memory_peak},
          {"oom_kills", report.oom_kills},
          {"network_bytes_in", report.network_bytes_in},
          {"network_bytes_out", report.network_bytes_out},
          {"problems", report.problems},
          {"pending", report.pending}};
}

// The DevTools of a session: through corral (what a bot on any host uses),
// and the browser's own loopback endpoint; null for a session in a network
// of its own, whose loopback nothing outside it can reach.
json devtools_json(const SessionInfo& session, const std::optional<PublicBase>& base) {
  const auto& endpoints = session.endpoints;
  if (!endpoints.devtools_http) return nullptr;
  json http = nullptr, ws = nullptr;
  if (base && !session.access_secret.empty()) {
    auto path = devtools_base_path(session.id, session.access_secret);
    http = base->http_url(path);
    if (endpoints.devtools_ws) ws = base->ws_url(path + url_path(*endpoints.devtools_ws));
  }
  json local = nullptr;
  if (!session.network.own()) local = {{"http", *endpoints.devtools_http}, {"ws", endpoints.devtools_ws}};
  return {{"http", http}, {"ws", ws}, {"local", local}};
}

// A session's upstream proxy, redacted: the credential never leaves corrald.
json proxy_json(const std::optional<UpstreamProxy>& proxy) {
  return proxy ? json(proxy->redacted()) : json(nullptr);
}

void add_proxy_counts(json& egress, const EgressCounters& counts) {
  egress["proxy_refused"] = counts.proxy_refused;
  egress["proxy_failed"] = counts.proxy_failed;
}

// A live session's network: a namespace of its own or corrald's, and what
// its pages did through its way out (refusals by the policy's reason) and
// what its resolver answered.
json network_json(const SessionInfo& session) {
  if (session.state == SessionState::closed) return nullptr;
  json egress = nullptr;
  if (session.egress) {
    const auto& counts = *session.egress;
    json refused = json::object();
    for (size_t reason = 1; reason < kEgressReasons; ++reason)
      refused[std::string(egress_reason_name(static_cast<EgressReason>(reason)))] = counts.refused[reason];
    egress = {{"connections", counts.connections}, {"open", counts.open},           {"refused", refused},
              {"unreachable", counts.unreachable}, {"bytes_out", counts.bytes_out}, {"bytes_in", counts.bytes_in}};
    add_proxy_counts(egress, counts);
  }
  json dns = nullptr;
  if (session.dns)
    dns = {{"answered", session.dns->answered}, {"failed", session.dns->failed}, {"dropped", session.dns->dropped},
           {"in_flight", session.dns->in_flight}, {"bytes_out", session.dns->bytes_out},
           {"bytes_in", session.dns->bytes_in}};
  return {{"own", session.network.own()}, {"egress", egress}, {"dns", dns}, {"proxy", proxy_json(session.request.proxy)},
          {"policy", egress_policy_json(session.egress_policy)}, {"max_bytes", session.network_max_bytes}};
}

// What its pages moved through its way out so far, beside the cgroup's
// figures; null without a way out (a shared network counts nothing).
void add_network_stats(json& stats, const SessionInfo& session) {
  stats["network_bytes_in"] = session.egress ? json(session.egress->bytes_in) : json(nullptr);
  stats["network_bytes_out"] = session.egress ? json(session.egress->bytes_out) : json(nullptr);
}

json session_json(const SessionInfo& session, const std::optional<PublicBase>& base) {
  json devtools = devtools_json(session, base);
  json body = {{"id", session.id},
               {"kind", browser_kind_name(session.request.kind)},
               {"state", session_state_name(session.state)},
               {"unit", session.scope.unit.empty() ? json(nullptr) : json(session.scope.unit)},
               {"cgroup", session.scope.cgroup.string()},
               {"pid", session.pid},
               {"uid", session.uid},
               {"devtools", devtools},
               {"webdriver", relayed_webdriver_url(session, base)},
               {"network", network_json(session)},
               {"limits", limits_json(session.limits)},
               {"enforced", {{"memory", session.enforced.memory}, {"cpu", session.enforced.cpu},
                             {"tasks", session.enforced.tasks}}},
               {"labels", session.request.labels},
               {"created_at", format_timestamp(session.created_at)},
               {"ttl", session.ttl.count() / 1000.0},
               {"idle_timeout", session.idle_timeout.count() / 1000.0},
               {"expires_at", format_timestamp(session.expires_at)},
               {"idle_expires_at", format_timestamp(session.idle_expires_at)},
               {"controlled_by_console", std::chrono::steady_clock::now() < session.console_control_until}};
  if (session.stats) {
    body["stats"] = stats_json(*session.stats);
    add_network_stats(body["stats"], session);
  }
  if (session.exit) body["exit"] = exit_json(*session.exit);
  if (session.report) body["report"] = close_report_json(*session.report);
  return body;
}

}  // namespace corral
