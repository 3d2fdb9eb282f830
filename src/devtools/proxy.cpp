// A session's DevTools through corral: Chrome's /json endpoints fetched and
// rewritten, and WebSockets relayed. Connect-to-launch is in launch.cpp.
#include "corral/devtools/proxy.hpp"

#include <spdlog/spdlog.h>

#include "corral/server/auth.hpp"
#include "corral/server/error_body.hpp"
#include "corral/net/loopback_request.hpp"
#include "corral/proxy/relayed_head.hpp"
#include "corral/server/untrusted_answer.hpp"

namespace corral {

namespace {

// The shape /cdp/<id>/<secret>/... has; parse_devtools_target checks it.
const char* kSessionPath = R"(/cdp/[0-9a-f]{12}/[0-9a-f]{32}(/.*)?)";
const char* kSessionJsonPath = R"(/cdp/[0-9a-f]{12}/[0-9a-f]{32}/json(/.*)?)";

HttpResponse unknown_session() {
  return error_response(404, "not_found", "no running session with that id and secret");
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

std::string error_answer(int status, const std::string& code, const std::string& message) {
  auto res = error_response(status, code, message);
  res.set_header("Connection", "close");
  return serialize(res, false);
}

HttpResponse relay_refused(const Error& refusal) {
  return error_response(relay_refusal_status(refusal), kTooManyRelays, refusal.message);
}

DevToolsProxy::DevToolsProxy(HttpServer& server, SessionManager& sessions, SessionUpstream& upstream,
                             DevToolsConfig config)
    : m_server(server), m_sessions(sessions), m_upstream(upstream), m_config(std::move(config)) {}

void DevToolsProxy::register_routes() {
  DevToolsRoutes::add_session_routes(*this);
  DevToolsRoutes::add_launch_routes(*this);
}

// GET/PUT /cdp/<id>/<secret>/json...: one request to the browser; its
// answer, with every WebSocket URL pointed at corral.
static void fetch_json(SessionManager& sessions, SessionUpstream& upstream, const PublicAddressing& addressing,
                       const HttpRequest& req, Reply reply) {
  auto target = parse_devtools_target(req.target);
  auto session = target ? authorized_session(sessions, *target) : Result<SessionInfo>(Error::make(ENOENT, ""));
  if (!session) return reply(unknown_session());
  (void)sessions.renew(session->id);  // a request on the session renews its lease
  uint16_t port = url_port(*session->endpoints.devtools_http);
  auto base = addressing.base_for(req);
  auto path = devtools_base_path(session->id, session->access_secret);
  auto request = loopback_request(req.method, target->rest, port, {{"Connection", "close"}});
  upstream.fetch(UpstreamPort::of(*session, port), request, [reply, base, port, path, id = session->id,
                                  asked = target->rest.substr(0, target->rest.find('?'))](
                                      Result<RelayHub::Fetched> fetched) {
    if (!fetched) return reply(error_response(502, "browser_unreachable", fetched.error().message));
    HttpResponse res;
    res.status = fetched->status;
    std::string body = std::move(fetched->body);
    if (base && fetched->content_type.find("json") != std::string::npos) {
      auto rewritten = rewrite_devtools_json(body, port, *base, path);
      if (!rewritten) {
        spdlog::warn("session {}: the browser's answer to {} refused: {}", id, asked, rewritten.error().message);
        return reply(error_response(502, "browser_answer_refused", rewritten.error().message));
      }
      body = std::move(*rewritten);
    }
    res.set_content(std::move(body), fetched->content_type.empty() ? "application/octet-stream" : fetched->content_type);
    mark_untrusted_answer(res);
    reply(std::move(res));
  });
}

// GET /cdp/<id>/<secret>/devtools/...: the WebSocket, relayed.
static std::variant<HttpResponse, Takeover> relay_websocket(SessionManager& sessions, SessionUpstream& upstream,
                                                            const HttpRequest& req) {
  auto target = parse_devtools_target(req.target);
  auto session = target ? authorized_session(sessions, *target) : Result<SessionInfo>(Error::make(ENOENT, ""));
  if (!session) return unknown_session();
  if (!is_websocket_upgrade(req))
    return error_response(400, "bad_request", "this path takes a WebSocket upgrade; Chrome's HTTP endpoints are under /json");
  auto slot = upstream.reserve(session->id);
  if (!slot) return relay_refused(slot.error());
  if (auto begun = sessions.begin_connection(session->id); !begun) return unknown_session();
  auto to = UpstreamPort::of(*session, url_port(*session->endpoints.devtools_http));
  auto head = relayed_head(req, target->rest, to.port);
  return Takeover{[&sessions, &upstream, to, head = std::move(head), slot = *slot](TakenConnection taken) {
    upstream.relay(std::move(taken), slot, to, head,
                   [](const std::string& why) { return error_answer(502, "browser_unreachable", why); },
                   [&sessions, id = to.session_id] { sessions.end_connection(id); });
  }};
}

void DevToolsRoutes::add_session_routes(DevToolsProxy& proxy) {
  auto& routes = proxy.m_server.routes();
  // The secret in the path stands in for the token; the handlers check it.
  const RouteRules secret{Access::session_secret};
  for (const char* method : {"GET", "PUT"})
    routes.add_async(method, kSessionJsonPath, [&proxy](const HttpRequest& req, Reply reply) {
      fetch_json(proxy.m_sessions, proxy.m_upstream, proxy.m_config.addressing, req, std::move(reply));
    }, secret);
  routes.add_head("GET", kSessionPath, [&proxy](const HttpRequest& req) {
    return relay_websocket(proxy.m_sessions, proxy.m_upstream, req);
  }, secret);
  // Any other request under a session's base is a 404 with or without the
  // token: a client of a session's DevTools never needs the API's.
  routes.add_fallback(std::string(kDevToolsPrefix) + ".*", secret);
}

}  // namespace corral
