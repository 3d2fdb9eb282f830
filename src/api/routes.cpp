#include "corral/api/routes.hpp"

#include <spdlog/spdlog.h>

#include "corral/api/bounded_server.hpp"
#include "corral/api/session_json.hpp"
#include "corral/api/open_request.hpp"
#include "corral/api/usage_json.hpp"
#include "corral/session/metrics_page.hpp"
#include "corral/util/units.hpp"

namespace corral {
using nlohmann::json;

namespace {

constexpr const char* kJson = "application/json";
const std::chrono::milliseconds kMaxGrace(60000);

void send(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Client text in messages is valid UTF-8 (the parser checks), but be safe.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", kJson);
}

void send_error(httplib::Response& res, const Error& error) {
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

void show_session(const std::string& id, httplib::Response& res, SessionManager& sessions);

const std::chrono::milliseconds kMaxWait(std::chrono::minutes(10));

void open_session(const httplib::Request& req, httplib::Response& res, SessionManager& sessions) {
  // httplib holds bodies with a Content-Length to the limit, not chunked ones.
  if (req.body.size() > kMaxRequestBody) return send(res, 413, error_json("too_large", default_message(413)));
  auto request = parse_session_request(req.body);
  if (!request) return send_error(res, request.error());
  std::chrono::milliseconds wait{0};
  if (req.has_param("wait")) {
    auto parsed = parse_duration(req.get_param_value("wait"), kMaxWait);
    if (!parsed) return send_error(res, Error::make(EINVAL, "wait: " + parsed.error().message));
    wait = *parsed;
  }
  auto session = sessions.open(*request, wait);
  if (!session) {
    // Room frees as sessions close; a close takes well under a second.
    if (session.error().code == ENOSPC) res.set_header("Retry-After", "1");
    return send_error(res, session.error());
  }
  send(res, 201, session_json(*session));
}

void keep_alive(const std::string& id, httplib::Response& res, SessionManager& sessions) {
  if (auto renewed = sessions.renew(id); !renewed) return send_error(res, renewed.error());
  show_session(id, res, sessions);
}

void metrics(httplib::Response& res, const SessionManager& sessions) {
  res.status = 200;
  res.set_content(render_metrics_page(sessions), "text/plain; version=0.0.4");
}

void list_sessions(httplib::Response& res, SessionManager& sessions) {
  json body = json::array();
  for (const auto& session : sessions.list()) body.push_back(session_json(session));
  send(res, 200, {{"sessions", body}});
}

void show_session(const std::string& id, httplib::Response& res, SessionManager& sessions) {
  auto session = sessions.get(id);
  if (!session) return send_error(res, session.error());
  send(res, 200, session_json(*session));
}

void close_session(const std::string& id, const httplib::Request& req, httplib::Response& res,
                   SessionManager& sessions) {
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
      return send(res, 202, session_json(*closing));
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

// Whether sessions are separated by uid, and which uids are quarantined.
json uid_pool_json(const UidPoolStatus& pool) {
  json quarantined = json::object();
  for (const auto& [uid, why] : pool.quarantined) quarantined[std::to_string(uid)] = why;
  return {{"separate", pool.separate}, {"source", pool.source},
          {"size", pool.separate ? json(pool.size) : json(nullptr)}, {"in_use", pool.in_use},
          {"quarantined", quarantined}};
}

void health(httplib::Response& res, const SessionManager& sessions) {
  const auto& backend = sessions.backend();
  auto controllers = backend.controllers();
  auto verdict = sessions.metrics().health();
  const auto& admission = sessions.config().admission;
  send(res, 200,
       {{"status", verdict.degraded ? "degraded" : "ok"},
        {"reason", verdict.degraded ? json(verdict.reason) : json(nullptr)},
        {"max_sessions", admission.max_sessions ? json(admission.max_sessions) : json(nullptr)},
        {"memory_budget", admission.memory_budget ? json(*admission.memory_budget) : json(nullptr)},
        {"instance", backend.naming().instance()},
        {"session_uids", uid_pool_json(sessions.uid_pool())},
        {"backend", backend.kind()},
        {"cgroup_root", backend.sessions_root().string()},
        {"controllers", {{"memory", controllers.memory}, {"cpu", controllers.cpu}, {"pids", controllers.tasks}}},
        {"allow_unenforced_limits", sessions.config().allow_unenforced_limits},
        {"sessions", sessions.open_count()}});
}

// What corralctl top shows in its totals; read-only like /v1/health.
void register_usage_route(httplib::Server& server, const SessionManager& sessions) {
  server.Get("/v1/usage", [&](const auto&, auto& res) { send(res, 200, usage_json(sessions)); });
  auto not_allowed = [](const auto&, auto& res) {
    send(res, 405, error_json("method_not_allowed", default_message(405)));
  };
  server.Post("/v1/usage", not_allowed);
  server.Put("/v1/usage", not_allowed);
  server.Patch("/v1/usage", not_allowed);
  server.Delete("/v1/usage", not_allowed);
}

// An id that new_session_id() cannot make is simply unknown; checking it here
// keeps odd bytes out of every message and log line.
bool known_shape(const std::string& id, httplib::Response& res) {
  if (valid_session_id(id)) return true;
  send(res, 404, error_json("not_found", "no session with that id (ids are 12 hex digits)"));
  return false;
}

}  // namespace

ConnectionLimits api_connection_limits() {
  ConnectionLimits limits;
  // Room for chunk framing: the body itself is held to kMaxRequestBody by
  // httplib when it has a Content-Length.
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

void register_routes(httplib::Server& server, SessionManager& sessions) {
  server.set_payload_max_length(kMaxRequestBody);
  // Requests waiting for admission (?wait=) each hold a worker thread. With
  // httplib's default pool of 8, eight waiters would leave no thread for the
  // DELETEs that make room: a deadlock. So the pool has a thread for every
  // waiter the queue admits, plus the usual eight for everything else.
  size_t workers = sessions.config().admission.max_queue + 8;
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.Post("/v1/sessions", [&](const auto& req, auto& res) { open_session(req, res, sessions); });
  server.Get("/v1/sessions", [&](const auto&, auto& res) { list_sessions(res, sessions); });
  server.Get(R"(/v1/sessions/([^/]+))", [&](const auto& req, auto& res) {
    if (!known_shape(req.matches[1], res)) return;
    (void)sessions.renew(req.matches[1]);  // any request on a session renews its lease
    show_session(req.matches[1], res, sessions);
  });
  server.Post(R"(/v1/sessions/([^/]+)/keepalive)", [&](const auto& req, auto& res) {
    if (known_shape(req.matches[1], res)) keep_alive(req.matches[1], res, sessions);
  });
  server.Get("/metrics", [&](const auto&, auto& res) { metrics(res, sessions); });
  server.Delete(R"(/v1/sessions/([^/]+))", [&](const auto& req, auto& res) {
    if (known_shape(req.matches[1], res)) close_session(req.matches[1], req, res, sessions);
  });
  server.Get("/v1/health", [&](const auto&, auto& res) { health(res, sessions); });
  register_usage_route(server, sessions);
  auto not_allowed = [](const auto&, auto& res) {
    send(res, 405, error_json("method_not_allowed", "method not allowed on this endpoint"));
  };
  for (const char* path : {"/v1/sessions", R"(/v1/sessions/([^/]+))", "/v1/health"}) {
    server.Put(path, not_allowed);
    server.Patch(path, not_allowed);
  }
  server.Delete("/v1/sessions", not_allowed);
  server.Post(R"(/v1/sessions/([^/]+))", not_allowed);

  server.set_error_handler([](const auto&, auto& res) {
    // httplib says 400 for any request it could not read; a broken limit
    // (too slow, too large) deserves its own status.
    if (auto broken = current_limit_answer()) {
      res.status = broken->status;
      return send(res, res.status, error_json(broken->code, broken->message));
    }
    if (!res.body.empty()) return;
    std::string code = res.status == 404   ? "not_found"
                       : res.status == 413 ? "too_large"
                                           : "http_" + std::to_string(res.status);
    send(res, res.status, error_json(code, default_message(res.status)));
  });
  server.set_exception_handler([](const auto&, auto& res, std::exception_ptr failure) {
    std::string what = "unexpected error";
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("request handler failed: {}", what);
    send(res, 500, error_json("internal", what));
  });
}

}  // namespace corral
