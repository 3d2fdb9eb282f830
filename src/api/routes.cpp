#include "corral/api/routes.hpp"

#include <spdlog/spdlog.h>

#include "corral/api/egress_policy_json.hpp"
#include "corral/session/session_egress.hpp"
#include "corral/api/session_json.hpp"
#include "corral/api/open_request.hpp"
#include "corral/server/pending_reply.hpp"
#include "corral/api/usage_json.hpp"
#include "corral/session/metrics_page.hpp"
#include "corral/util/units.hpp"

namespace corral {
using nlohmann::json;

namespace {

constexpr const char* kJson = "application/json";
const std::chrono::milliseconds kMaxGrace(60000);

void send(HttpResponse& res, int status, const json& body) {
  res.status = status;
  res.set_content(json_text(body), kJson);
}

void send_error(HttpResponse& res, const Error& error) {
  auto [status, code] = http_status_for(error.code);
  send(res, status, error_json(code, error.message));
}

const char* default_message(int status) {
  switch (status) {
    case 400: return "malformed request";
    case 404: return "no such endpoint";
    case 405: return "method not allowed on this endpoint";
    case 413: return "request body is too large (limit 64 KiB)";
    case 414: return "request URI is too long";
    default: return "request failed";
  }
}

using Base = std::optional<PublicBase>;  ///< where this request reached corral, for the DevTools URLs

void show_session(const std::string& id, HttpResponse& res, SessionManager& sessions, const Base& base);

const std::chrono::milliseconds kMaxWait(std::chrono::minutes(10));

HttpResponse opened_response(const Result<SessionInfo>& session, const Base& base) {
  HttpResponse res;
  if (session) {
    send(res, 201, session_json(*session, base));
    return res;
  }
  // Room frees as sessions close; a close takes well under a second.
  if (session.error().code == ENOSPC) res.set_header("Retry-After", "1");
  send_error(res, session.error());
  return res;
}

// Nothing here blocks: the admission waits in its queue (with a timer for
// ?wait=), the browser starts on the worker pool.
void open_session(const HttpRequest& req, Reply reply, HttpServer& server, SessionManager& sessions, Base base) {
  HttpResponse res;
  if (req.body.size() > kMaxRequestBody) return send(res, 413, error_json("too_large", default_message(413))), reply(res);
  auto request = parse_session_request(req.body);
  if (!request) return send_error(res, request.error()), reply(res);
  std::chrono::milliseconds wait{0};
  if (req.has_param("wait")) {
    auto parsed = parse_duration(req.get_param_value("wait"), kMaxWait);
    if (!parsed) return send_error(res, Error::make(EINVAL, "wait: " + parsed.error().message)), reply(res);
    wait = *parsed;
  }
  auto pending = std::make_shared<PendingReply>(std::move(reply));
  auto waiter = sessions.open_async(
      *request, wait, [&server](std::function<void()> task) { server.post_work(std::move(task)); },
      [pending, base](Result<SessionInfo> session) { pending->finish(opened_response(session, base)); });
  if (waiter) pending->arm(server.call_after(wait, [&sessions, waiter] { sessions.give_up_waiting(waiter); }));
}

void keep_alive(const std::string& id, HttpResponse& res, SessionManager& sessions, const Base& base) {
  if (auto renewed = sessions.renew(id); !renewed) return send_error(res, renewed.error());
  show_session(id, res, sessions, base);
}

void metrics(HttpResponse& res, const SessionManager& sessions) {
  res.status = 200;
  res.set_content(render_metrics_page(sessions), "text/plain; version=0.0.4");
}

// The open sessions; with ?state=closed the last closed ones instead,
// oldest first, each with its cleanup report (the console's closed list).
void list_sessions(const HttpRequest& req, HttpResponse& res, SessionManager& sessions, const Base& base) {
  bool closed = req.has_param("state");
  if (closed && req.get_param_value("state") != "closed")
    return send(res, 422, error_json("invalid_value", "state: only 'closed' may be asked for; without it the "
                                                      "open sessions are listed"));
  json body = json::array();
  for (const auto& session : closed ? sessions.recently_closed() : sessions.list())
    body.push_back(session_json(session, base));
  send(res, 200, {{"sessions", body}});
}

// How long the console's mark lasts unless renewed: the console renews it
// every 10 s while a person drives the page, so a console that vanishes
// leaves it set for 30 s at most.
constexpr std::chrono::seconds kConsoleControlHold(30);

// POST sets (or renews) the mark, DELETE clears it; either answers the session.
void console_control(const HttpRequest& req, HttpResponse& res, SessionManager& sessions, const Base& base) {
  const std::string& id = req.matches[1];
  auto until = req.method == "POST" ? std::chrono::steady_clock::now() + kConsoleControlHold
                                    : std::chrono::steady_clock::time_point{};
  if (auto marked = sessions.mark_console_control(id, until); !marked) return send_error(res, marked.error());
  show_session(id, res, sessions, base);
}

void show_session(const std::string& id, HttpResponse& res, SessionManager& sessions, const Base& base) {
  auto session = sessions.get(id);
  if (!session) return send_error(res, session.error());
  send(res, 200, session_json(*session, base));
}

void close_session(const std::string& id, const HttpRequest& req, HttpResponse& res, SessionManager& sessions,
                   const Base& base) {
  std::optional<std::chrono::milliseconds> grace;
  if (req.has_param("grace")) {
    auto parsed = parse_duration(req.get_param_value("grace"), kMaxGrace);
    if (!parsed) return send_error(res, Error::make(EINVAL, "grace: " + parsed.error().message));
    grace = *parsed;
  }
  if (req.has_param("wait")) {
    // Only "do not wait" differs from the default: the client gets 202 and
    // the session in "closing"; the report is at GET once the cleanup is done.
    auto wait = parse_duration(req.get_param_value("wait"), kMaxGrace);
    if (!wait) return send_error(res, Error::make(EINVAL, "wait: " + wait.error().message));
    if (wait->count() == 0) {
      auto closing = sessions.close_in_background(id, grace);
      if (!closing) return send_error(res, closing.error());
      return send(res, 202, session_json(*closing, base));
    }
  }
  auto report = sessions.close(id, grace);
  if (!report) return send_error(res, report.error());
  if (report->clean()) return send(res, 200, close_report_json(*report));
  json body = error_json("cleanup_failed", "session " + id + " was not cleaned completely: " +
                                               (report->problems.empty() ? "" : report->problems.front()));
  body["report"] = close_report_json(*report);
  send(res, 500, body);
}

// Where sweeps look (discovery) and which failed sweeps wait for a retry.
json sweep_json(const SweepStatus& sweep) {
  using namespace std::chrono;
  const auto& found = sweep.discovery;
  bool done = found.at != steady_clock::time_point{};
  json retries = json::object();
  auto now = steady_clock::now();
  for (const auto& [uid, retry] : sweep.retries)
    retries[std::to_string(uid)] = {
        {"why", retry.why},
        {"failures", retry.failures},
        {"next_attempt_in_ms", std::max<int64_t>(0, duration_cast<milliseconds>(retry.next_attempt - now).count())}};
  return {{"discovery",
           {{"dirs", found.dirs},
            {"mounts", found.mounts},
            {"directories_read", found.directories_read},
            {"took_ms", found.took.count()},
            {"age_s", done ? json(duration_cast<seconds>(now - found.at).count()) : json(nullptr)},
            {"complete", done && found.incomplete.empty()},
            {"incomplete", found.incomplete.empty() ? json(nullptr) : json(found.incomplete)}}},
          {"retries", retries}};
}

// Whether sessions are separated by uid, which uids are quarantined, and
// the state of their sweeps.
json uid_pool_json(const UidPoolStatus& pool) {
  json quarantined = json::object();
  for (const auto& [uid, why] : pool.quarantined) quarantined[std::to_string(uid)] = why;
  json body = {{"separate", pool.separate}, {"source", pool.source},
               {"size", pool.separate ? json(pool.size) : json(nullptr)}, {"in_use", pool.in_use},
               {"quarantined", quarantined}};
  if (pool.separate) body["sweep"] = sweep_json(pool.sweep);
  return body;
}

// What an unprivileged corrald's own networks separate, each proved by
// tests/e2e/test_session_network.py and test_session_egress.py under
// systemd-user, and what they cannot: its sessions run as corrald's uid.
// Null in the other modes (docs/network.md says what those give).
json network_separation(const DaemonFacts& facts) {
  if (facts.session_network != "own (user namespace)") return nullptr;
  return {{"pages_from_host_and_private_addresses", true},
          {"session_ports_from_other_local_users", true},
          {"corrald_and_other_sessions_from_a_compromised_browser", false}};
}

void health(HttpResponse& res, const SessionManager& sessions, const DaemonFacts& facts) {
  const auto& controllers = facts.controllers;
  auto verdict = sessions.metrics().health();
  const auto& admission = sessions.config().admission;
  send(res, 200,
       {{"status", verdict.degraded ? "degraded" : "ok"},
        {"reason", verdict.degraded ? json(verdict.reason) : json(nullptr)},
        {"max_sessions", admission.max_sessions ? json(admission.max_sessions) : json(nullptr)},
        {"memory_budget", admission.memory_budget ? json(*admission.memory_budget) : json(nullptr)},
        {"instance", facts.instance},
        {"session_uids", uid_pool_json(sessions.uid_pool())},
        {"backend", facts.backend},
        {"session_network", facts.session_network},
        {"chromedriver_guard", facts.chromedriver_guard},
        {"session_way_out", facts.session_way_out ? json(*facts.session_way_out) : json(nullptr)},
        {"session_way_out_table", facts.way_out_table ? json(*facts.way_out_table) : json(nullptr)},
        {"session_network_separates", network_separation(facts)},
        {"egress_policy", operator_egress_json(facts.egress_policy
                                                   ? std::optional(egress_policy_view(*facts.egress_policy, {}))
                                                   : std::nullopt)},
        {"cgroup_root", facts.sessions_root.string()},
        {"controllers", {{"memory", controllers.memory}, {"cpu", controllers.cpu}, {"pids", controllers.tasks}}},
        {"allow_unenforced_limits", sessions.config().allow_unenforced_limits},
        {"sessions", sessions.open_count()}});
}

void not_allowed(const HttpRequest&, HttpResponse& res) {
  send(res, 405, error_json("method_not_allowed", default_message(405)));
}

// What corralctl top shows in its totals; read-only like /v1/health.
void register_usage_route(Router& routes, const SessionManager& sessions, const DaemonFacts& facts) {
  routes.add("GET", "/v1/usage", [&sessions, facts](const auto&, auto& res) {
    send(res, 200, usage_json(sessions, facts));
  });
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) routes.add(method, "/v1/usage", not_allowed);
}

// An id that new_session_id() cannot make is simply unknown; checking it here
// keeps odd bytes out of every message and log line.
bool known_shape(const std::string& id, HttpResponse& res) {
  if (valid_session_id(id)) return true;
  send(res, 404, error_json("not_found", "no session with that id (ids are 12 hex digits)"));
  return false;
}

}  // namespace

ConnectionLimits api_connection_limits() {
  ConnectionLimits limits;
  // Room for chunk framing, as sent: the decoded body is held to
  // kMaxRequestBody by the handler that reads one (open_session).
  limits.max_body = kMaxRequestBody + 4096;
  return limits;
}

std::pair<int, const char*> http_status_for(int error_code) {
  switch (error_code) {
    case EBADMSG: return {400, "bad_request"};
    case EINVAL: return {422, "invalid_value"};
    case EOPNOTSUPP: return {422, "limit_not_enforceable"};
    case ENOENT: return {404, "not_found"};
    case EALREADY: return {409, "already_closed"};
    case EBUSY: return {409, "conflict"};
    case E2BIG: return {413, "too_large"};
    case EAGAIN: return {503, "unavailable"};
    case ENOSPC: return {429, "at_capacity"};
    case ECHILD: case ETIMEDOUT: return {500, "browser_failed"};
    case ENOEXEC: return {503, "browser_unavailable"};
    default: return {500, "internal"};
  }
}

// Handlers that only read what is in memory or a few cgroup files run on
// the I/O thread; a close (its kill wait) runs on the worker pool.
void register_routes(HttpServer& server, SessionManager& sessions, const DaemonFacts& facts) {
  auto& routes = server.routes();
  auto base = [addressing = facts.addressing](const HttpRequest& req) { return addressing.base_for(req); };
  const std::string session_path = R"(/v1/sessions/([^/]+))";
  routes.add_async("POST", "/v1/sessions",
                   [&, base](const auto& req, Reply reply) { open_session(req, std::move(reply), server, sessions, base(req)); });
  routes.add("GET", "/v1/sessions", [&, base](const auto& req, auto& res) { list_sessions(req, res, sessions, base(req)); });
  routes.add("GET", session_path, [&, base](const auto& req, auto& res) {
    if (!known_shape(req.matches[1], res)) return;
    (void)sessions.renew(req.matches[1]);  // any request on a session renews its lease
    show_session(req.matches[1], res, sessions, base(req));
  });
  routes.add("POST", session_path + "/keepalive", [&, base](const auto& req, auto& res) {
    if (known_shape(req.matches[1], res)) keep_alive(req.matches[1], res, sessions, base(req));
  });
  for (const char* method : {"POST", "DELETE"})
    routes.add(method, session_path + "/control", [&, base](const auto& req, auto& res) {
      if (known_shape(req.matches[1], res)) console_control(req, res, sessions, base(req));
    });
  routes.add("GET", "/metrics", [&](const auto&, auto& res) { metrics(res, sessions); });
  routes.add(
      "DELETE", session_path,
      [&, base](const auto& req, auto& res) {
        if (known_shape(req.matches[1], res)) close_session(req.matches[1], req, res, sessions, base(req));
      },
      {}, RunOn::worker);
  // Open: load balancers poll it without a credential.
  routes.add("GET", "/v1/health", [&sessions, facts](const auto&, auto& res) { health(res, sessions, facts); },
             {Access::open});
  register_usage_route(routes, sessions, facts);
  for (const std::string& path : {std::string("/v1/sessions"), session_path, std::string("/v1/health")}) {
    routes.add("PUT", path, not_allowed);
    routes.add("PATCH", path, not_allowed);
  }
  routes.add("DELETE", "/v1/sessions", not_allowed);
  routes.add("POST", session_path, not_allowed);
}

}  // namespace corral
