// WebDriver commands through corral: each one forwarded to the session's
// chromedriver as it came, with the session id rewritten both ways; the
// quit followed by the verified cleanup; GET /status. The new session is
// in new_session.cpp, the WebSockets in sockets.cpp.
#include "corral/webdriver/proxy.hpp"

#include <spdlog/spdlog.h>

#include "corral/api/session_json.hpp"
#include "corral/webdriver/errors.hpp"
#include "corral/webdriver/paths.hpp"
#include "corral/net/loopback_request.hpp"
#include "corral/util/url.hpp"
#include "corral/server/untrusted_answer.hpp"

namespace corral {
namespace {
using nlohmann::json;
using namespace std::chrono;

constexpr size_t kMaxAnswer = 256 << 20;  // a full-page screenshot of a long page, base64

// What a quit answers once chromedriver has answered it: the verified
// cleanup's outcome. Runs on the worker pool (the close waits for the kill).
HttpResponse close_after_quit(SessionManager& sessions, const std::string& id) {
  auto report = sessions.close(id, std::nullopt);
  if (!report && report.error().code == EALREADY) return webdriver_json(200, {{"value", nullptr}});
  if (!report) return webdriver_error(500, "unknown error", "closing session " + id + ": " + report.error().message);
  if (report->clean()) return webdriver_json(200, {{"value", nullptr}});
  // W3C's error shape (webdriver_error's), with the close report added.
  std::string message = "session " + id + " was not cleaned completely: " +
                        (report->problems.empty() ? "" : report->problems.front());
  json value = {{"error", "unknown error"}, {"message", message}, {"stacktrace", ""},
                {"report", close_report_json(*report)}};
  return webdriver_json(500, {{"value", std::move(value)}});
}

// A command for a session corral does not drive (now): a quit of one that
// corral closed already is done (chromedriver answers so too); anything
// else is an unknown session.
HttpResponse not_driven(SessionManager& sessions, const HttpRequest& req, const WebDriverTarget& target) {
  auto session = sessions.get(target.session_id);
  bool quit = req.method == "DELETE" && target.rest.empty();
  if (quit && session && (session->state == SessionState::closed || session->state == SessionState::closing))
    return webdriver_json(200, {{"value", nullptr}});
  return invalid_session_id("no WebDriver session " + target.session_id + " is open on this corrald");
}

milliseconds time_left(system_clock::time_point expires_at) {
  auto left = duration_cast<milliseconds>(expires_at - system_clock::now());
  return std::max(left, milliseconds(1000)) + seconds(10);  // the session's own end comes first
}

HttpResponse driver_answer(Result<RelayHub::Fetched> fetched, const std::string& driver_id, const std::string& id) {
  if (!fetched)
    return webdriver_error(500, "unknown error", "the session's chromedriver did not answer: " + fetched.error().message);
  HttpResponse res;
  res.status = fetched->status;
  res.set_content(replace_driver_id(std::move(fetched->body), driver_id, id),
                  fetched->content_type.empty() ? "application/json; charset=utf-8" : fetched->content_type);
  res.set_header("Cache-Control", "no-cache");
  mark_untrusted_answer(res);
  return res;
}

}  // namespace

std::string driver_request(const std::string& method, const std::string& target, uint16_t port,
                           const std::string& body, bool keep_alive) {
  HeaderList headers = {{"Accept", "application/json"}, {"Connection", keep_alive ? "keep-alive" : "close"}};
  if (!body.empty() || method == "POST") headers.emplace_back("Content-Type", "application/json;charset=utf-8");
  return loopback_request(method, target, port, headers, body);
}

WebDriverProxy::Driven WebDriverProxy::Driven::of(const SessionInfo& session) {
  const auto& url = session.endpoints.webdriver.value_or("");
  return {UpstreamPort::of(session, url_port(url)), driver_url_base(url), session.driver.value_or(DriverBinding{})};
}

WebDriverProxy::WebDriverProxy(HttpServer& server, SessionManager& sessions, SessionUpstream& upstream,
                               WebDriverConfig config)
    : m_server(server), m_sessions(sessions), m_upstream(upstream), m_config(std::move(config)) {
  // Under the manager's lock: only forget, never call the manager.
  m_listener = m_sessions.add_closing_listener([this](const std::string& id) {
    std::lock_guard lock(m_mutex);
    m_driven.erase(id);
  });
  adopt_driven_sessions();
}

// Sessions an earlier corrald opened and this one adopted (recovery runs
// before the proxy is made): their WebDriver clients are served again from
// what the state file kept.
void WebDriverProxy::adopt_driven_sessions() {
  for (const auto& session : m_sessions.list()) {
    if (session.state != SessionState::running || !session.driver || !session.endpoints.webdriver) continue;
    std::lock_guard lock(m_mutex);
    m_driven[session.id] = Driven::of(session);
  }
}

WebDriverProxy::~WebDriverProxy() { m_sessions.remove_closing_listener(m_listener); }

void WebDriverProxy::register_routes() {
  WebDriverRoutes::add_socket_routes(*this);  // before the commands: their paths are under /session/<id>/ too
  WebDriverRoutes::add_new_session_route(*this);
  WebDriverRoutes::add_command_routes(*this);
  WebDriverRoutes::add_relayed_routes(*this);
  m_server.routes().add_fallback(webdriver_paths_pattern(), webdriver_rules());
}

std::optional<WebDriverProxy::Driven> WebDriverProxy::driven(const std::string& id) const {
  std::lock_guard lock(m_mutex);
  auto it = m_driven.find(id);
  if (it == m_driven.end()) return std::nullopt;
  return it->second;
}

void WebDriverProxy::remember(const std::string& id, Driven driven, std::function<void()> then) {
  auto binding = driven.binding;
  {
    std::lock_guard lock(m_mutex);
    m_driven[id] = std::move(driven);
  }
  // Into the state file too (a write and a rename: on a worker), so that a
  // restarted corrald still serves this client; `then` once it is there.
  m_server.post_work([this, id, binding = std::move(binding), then = std::move(then)] {
    (void)m_sessions.bind_driver(id, binding);
    then();
  });
}

bool WebDriverProxy::claim_relay(const std::string& id) {
  std::lock_guard lock(m_mutex);
  if (m_driven.count(id) || m_relay_claims.count(id)) return false;
  m_relay_claims.insert(id);
  return true;
}

void WebDriverProxy::release_relay(const std::string& id) {
  std::lock_guard lock(m_mutex);
  m_relay_claims.erase(id);
}

// Forgotten in memory; the state file keeps the ended binding until the
// next one replaces it (a restart in between adopts it as bound: its
// commands then get chromedriver's own "invalid session id").
void WebDriverProxy::forget_binding(const std::string& id) {
  std::lock_guard lock(m_mutex);
  m_driven.erase(id);
}

// Nothing here blocks: the command waits in the relay hub, the cleanup
// after a quit on the worker pool.
void WebDriverRoutes::forward_command(WebDriverProxy& proxy, const WebDriverTarget& target, const HttpRequest& req,
                                      AfterQuit after, Reply reply) {
  auto& sessions = proxy.m_sessions;
  auto driven = proxy.driven(target.session_id);
  if (!driven) return reply(not_driven(sessions, req, target));
  auto expires_at = sessions.begin_command(target.session_id);
  if (!expires_at) return reply(not_driven(sessions, req, target));
  if (req.body.size() > kMaxCommandBody) {
    sessions.end_connection(target.session_id);
    return reply(invalid_argument("the command's body is over 8 MiB"));
  }
  bool quit = req.method == "DELETE" && target.rest.empty();
  // A quit ends chromedriver's session: its connection is not kept.
  auto request = driver_request(req.method, driver_target(driven->driver_base, driven->binding.driver_id, target.rest),
                                driven->chromedriver.port, req.body, !quit);
  proxy.m_upstream.exchange(
      driven->chromedriver, std::move(request), time_left(*expires_at), kMaxAnswer,
      [&proxy, driver_id = driven->binding.driver_id, id = target.session_id, quit, after, reply](auto fetched) {
        auto& sessions = proxy.m_sessions;
        sessions.end_connection(id);
        if (quit && after == AfterQuit::keep_session) proxy.forget_binding(id);
        if (!quit || after == AfterQuit::keep_session) return reply(driver_answer(std::move(fetched), driver_id, id));
        if (!fetched) spdlog::info("session {}: chromedriver did not answer the quit: {}", id, fetched.error().message);
        proxy.m_server.post_work([&sessions, id, reply] { reply(close_after_quit(sessions, id)); });
      });
}

namespace {

HttpResponse status(const SessionManager& sessions) {
  auto verdict = sessions.metrics().health();
  const auto& admission = sessions.config().admission;
  auto gauges = sessions.gauges();
  std::string why;
  if (verdict.degraded) why = "corrald is degraded: " + verdict.reason;
  else if (admission.max_sessions && gauges.sessions_active >= admission.max_sessions)
    why = "at capacity: " + std::to_string(gauges.sessions_active) + " of " + std::to_string(admission.max_sessions) +
          " sessions open";
  else if (admission.memory_budget && gauges.memory_budget_used >= *admission.memory_budget)
    why = "at capacity: the memory budget is taken";
  json value = {{"ready", why.empty()}, {"message", why.empty() ? "corrald is ready for new sessions" : why},
                {"build", {{"version", "corral"}}}};
  return webdriver_json(200, {{"value", value}});
}

}  // namespace

void WebDriverRoutes::add_command_routes(WebDriverProxy& proxy) {
  auto& routes = proxy.m_server.routes();
  for (const std::string& prefix : kWebDriverPrefixes) {
    routes.add(  // what load balancers and Grid relay nodes poll
        "GET", prefix + "/status", [&proxy](const HttpRequest&, HttpResponse& res) { res = status(proxy.m_sessions); },
        webdriver_rules(Access::open));
    for (const char* method : {"GET", "POST", "DELETE"})
      routes.add_async(method, prefix + "/session/[0-9a-f]{12}(/.*)?",
                       [&proxy](const HttpRequest& req, Reply reply) {
                         auto target = parse_webdriver_target(req.target);
                         if (!target) return reply(invalid_session_id());
                         forward_command(proxy, *target, req, AfterQuit::close_session, std::move(reply));
                       },
                       webdriver_rules(), kMaxCommandBody + 4096);
    routes.add_async("GET", prefix + "/session/[^/]+(/.*)?", [](const HttpRequest&, Reply reply) {
      reply(invalid_session_id("no WebDriver session with that id (corral's ids are 12 hex digits)"));
    }, webdriver_rules());
    for (const char* method : {"POST", "DELETE"})
      routes.add_async(method, prefix + "/session/[^/]+(/.*)?", [](const HttpRequest&, Reply reply) {
        reply(invalid_session_id("no WebDriver session with that id (corral's ids are 12 hex digits)"));
      }, webdriver_rules());
  }
}

}  // namespace corral
