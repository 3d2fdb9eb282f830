// A session's DevTools through corral: Chrome's /json endpoints fetched and
// rewritten, and WebSockets relayed. Connect-to-launch is in devtools_launch.cpp.
#include "corral/devtools/proxy.hpp"

#include <spdlog/spdlog.h>
#include <strings.h>

#include "corral/server/auth.hpp"
#include "corral/server/error_body.hpp"
#include "corral/cgroup/listener_owner.hpp"

namespace corral {

namespace {

// The shape /cdp/<id>/<secret>/... has; parse_devtools_target checks it.
const char* kSessionPath = R"(/cdp/[0-9a-f]{12}/[0-9a-f]{32}(/.*)?)";
const char* kSessionJsonPath = R"(/cdp/[0-9a-f]{12}/[0-9a-f]{32}/json(/.*)?)";

bool dropped_for_browser(const std::string& name) {
  static const char* dropped[] = {"host", "origin", "authorization", "cookie", "proxy-authorization",
                                  "proxy-connection", "forwarded", "content-length", "transfer-encoding"};
  for (const char* header : dropped)
    if (strcasecmp(name.c_str(), header) == 0) return true;
  return strncasecmp(name.c_str(), "x-forwarded-", 12) == 0;
}

// The one JSON error body (server/error_body.hpp), under the name this file's handlers use.
HttpResponse json_error(int status, const std::string& code, const std::string& message) {
  return error_response(status, code, message);
}

HttpResponse unknown_session() {
  return json_error(404, "not_found", "no running session with that id and secret");
}

// The session a /cdp/ target names, if its secret is right and it runs.
Result<SessionInfo> authorized_session(SessionManager& sessions, const DevToolsTarget& target) {
  auto session = sessions.get(target.session_id);
  if (!session || !constant_time_equal(session->access_secret, target.secret) ||
      session->state != SessionState::running || !session->endpoints.devtools_http)
    return Error::make(ENOENT, "no running session with that id and secret");
  return session;
}

}  // namespace

std::string upstream_head(const HttpRequest& req, const std::string& path, uint16_t port) {
  std::string head = req.method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (const auto& [name, value] : req.headers)
    if (!dropped_for_browser(name)) head += name + ": " + value + "\r\n";
  return head + "\r\n";
}

std::string error_answer(int status, const std::string& code, const std::string& message) {
  auto res = json_error(status, code, message);
  res.set_header("Connection", "close");
  return serialize(res, false);
}

HttpResponse relay_refused(const Error& refusal) {
  return json_error(relay_refusal_status(refusal), kTooManyRelays, refusal.message);
}

DevToolsProxy::DevToolsProxy(HttpServer& server, SessionManager& sessions, RelayBudget& relays, DevToolsConfig config)
    : m_server(server), m_sessions(sessions), m_relays(relays), m_config(std::move(config)) {
  // Relays of a session that starts to close end now: the client sees it at
  // once, not at its next command. (close_group only posts: safe under the
  // manager's lock.)
  m_sessions.set_closing_listener([this](const std::string& id) { m_hub.close_group(id); });
}

DevToolsProxy::~DevToolsProxy() { m_sessions.set_closing_listener(nullptr); }

void DevToolsProxy::register_routes() {
  DevToolsRoutes::add_session_routes(*this);
  DevToolsRoutes::add_launch_routes(*this);
}

// GET/PUT /cdp/<id>/<secret>/json...: one request to the browser; its
// answer, with every WebSocket URL pointed at corral.
static void fetch_json(SessionManager& sessions, RelayHub& hub, const PublicAddressing& addressing,
                       const HttpRequest& req, Reply reply) {
  auto target = parse_devtools_target(req.target);
  auto session = target ? authorized_session(sessions, *target) : Result<SessionInfo>(Error::make(ENOENT, ""));
  if (!session) return reply(unknown_session());
  (void)sessions.renew(session->id);  // a request on the session renews its lease
  uint16_t port = url_port(*session->endpoints.devtools_http);
  auto cgroup = session->scope.cgroup;
  auto base = addressing.base_for(req);
  auto path = devtools_base_path(session->id, session->access_secret);
  std::string request = req.method + " " + target->rest + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  auto check = [port, cgroup, uid = session->uid] { return check_session_port(port, Cgroup(cgroup), uid); };
  hub.fetch(port, check, request, [reply, base, port, path, id = session->id,
                                  asked = target->rest.substr(0, target->rest.find('?'))](
                                      Result<RelayHub::Fetched> fetched) {
    if (!fetched) return reply(json_error(502, "browser_unreachable", fetched.error().message));
    HttpResponse res;
    res.status = fetched->status;
    std::string body = std::move(fetched->body);
    if (base && fetched->content_type.find("json") != std::string::npos) {
      auto rewritten = rewrite_devtools_json(body, port, *base, path);
      if (!rewritten) {
        spdlog::warn("session {}: the browser's answer to {} refused: {}", id, asked, rewritten.error().message);
        return reply(json_error(502, "browser_answer_refused", rewritten.error().message));
      }
      body = std::move(*rewritten);
    }
    res.set_content(std::move(body), fetched->content_type.empty() ? "application/octet-stream" : fetched->content_type);
    reply(std::move(res));
  });
}

// GET /cdp/<id>/<secret>/devtools/...: the WebSocket, relayed.
static std::variant<HttpResponse, Takeover> relay_websocket(SessionManager& sessions, RelayHub& hub,
                                                            RelayBudget& relays, const HttpRequest& req) {
  auto target = parse_devtools_target(req.target);
  auto session = target ? authorized_session(sessions, *target) : Result<SessionInfo>(Error::make(ENOENT, ""));
  if (!session) return unknown_session();
  if (!is_websocket_upgrade(req))
    return json_error(400, "bad_request", "this path takes a WebSocket upgrade; Chrome's HTTP endpoints are under /json");
  auto slot = relays.reserve(session->id);
  if (!slot) return relay_refused(slot.error());
  if (auto begun = sessions.begin_connection(session->id); !begun) return unknown_session();
  uint16_t port = url_port(*session->endpoints.devtools_http);
  auto head = upstream_head(req, target->rest, port);
  return Takeover{[&sessions, &hub, id = session->id, cgroup = session->scope.cgroup, uid = session->uid, port,
                   head = std::move(head), slot = *slot,
                   idle_timeout = relays.limits().idle_timeout](TakenConnection taken) {
    RelayHub::Plan plan;
    plan.held = {std::move(taken.counted), slot};
    plan.idle_timeout = idle_timeout;
    plan.client = std::move(taken.socket);
    plan.group = id;
    plan.upstream_port = port;
    plan.check_upstream = [port, cgroup, uid] { return check_session_port(port, Cgroup(cgroup), uid); };
    plan.to_upstream = head + taken.buffered;
    plan.failure_answer = [](const std::string& why) { return error_answer(502, "browser_unreachable", why); };
    plan.on_end = [&sessions, id] { sessions.end_connection(id); };
    hub.start(std::move(plan));
  }};
}

void DevToolsRoutes::add_session_routes(DevToolsProxy& proxy) {
  auto& routes = proxy.m_server.routes();
  // The secret in the path stands in for the token; the handlers check it.
  const RouteRules secret{Access::session_secret};
  for (const char* method : {"GET", "PUT"})
    routes.add_async(method, kSessionJsonPath, [&proxy](const HttpRequest& req, Reply reply) {
      fetch_json(proxy.m_sessions, proxy.m_hub, proxy.m_config.addressing, req, std::move(reply));
    }, secret);
  routes.add_head("GET", kSessionPath, [&proxy](const HttpRequest& req) {
    return relay_websocket(proxy.m_sessions, proxy.m_hub, proxy.m_relays, req);
  }, secret);
  // Any other request under a session's base is a 404 with or without the
  // token: a client of a session's DevTools never needs the API's.
  routes.add_fallback(std::string(kDevToolsPrefix) + ".*", secret);
}

}  // namespace corral
