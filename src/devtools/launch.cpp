// Connect-to-launch, as browserless users expect (--launch-on-connect): a
// WebSocket to /devtools/browser at corral's root opens a session, with
// the fields of POST /v1/sessions from the query, and relays to its
// browser; when the client goes, the session is closed (reason
// "disconnected") with the verified cleanup. GET /json/version at the
// root hands out that URL, so Puppeteer's browserURL and Playwright's
// connectOverCDP("http://HOST:PORT") need no corral-specific code.
//
// Off by default: then the root /json/version is a 404 that names
// browserWSEndpoint. Puppeteer drops the path of browserURL, so a user who
// passes a session's devtools.http there gets an error, not a new browser.
#include <spdlog/spdlog.h>

#include "corral/devtools/proxy.hpp"
#include "corral/devtools/launch_query.hpp"
#include "corral/api/routes.hpp"
#include "corral/server/error_body.hpp"
#include "corral/proxy/relayed_head.hpp"

namespace corral {
using nlohmann::json;

namespace {

const char* kLaunchPath = R"(/devtools/browser(/[^/]*)?)";
const char* kRootVersionPath = R"(/json/version/?)";
const char* kRootListPath = R"(/json(/list)?/?)";

const char* kLaunchIsOff =
    "there is no browser at corral's root: connect-to-launch is off (corrald --launch-on-connect). Open a session "
    "(POST /v1/sessions) and give its devtools.ws to Puppeteer as browserWSEndpoint, or its devtools.http to "
    "Playwright's connectOverCDP; Puppeteer's browserURL drops the session's path";

HttpResponse json_answer(int status, const json& body) {
  HttpResponse res;
  res.status = status;
  res.set_content(json_text(body), "application/json");
  return res;
}

// The query of a launch URL, as handed out: every field the client gave
// but its token; a ticket instead when a token is needed.
std::string launch_query(const HttpRequest& req, LaunchTickets& tickets, bool token_required) {
  std::string query;
  for (const auto& field : query_fields(req.target)) {
    auto name = decode_query_component(field.name);
    if (name != "token" && name != "ticket") query += (query.empty() ? "" : "&") + std::string(field.whole);
  }
  if (token_required) query += (query.empty() ? "ticket=" : "&ticket=") + tickets.issue();
  return query.empty() ? "" : "?" + query;
}

HttpResponse root_version(const HttpRequest& req, DevToolsProxy& proxy, const DevToolsConfig& config) {
  if (!config.launch_on_connect) return error_response(404, "not_found", kLaunchIsOff);
  auto base = config.addressing.base_for(req);
  if (!base) return error_response(404, "not_found", "no address to hand out on a unix socket");
  auto browser = config.browser_version ? config.browser_version() : "";
  json version = {{"Browser", "Chrome/" + (browser.empty() ? std::string("unknown") : browser)},
                  {"Protocol-Version", "1.3"},
                  {"webSocketDebuggerUrl",
                   base->ws_url("/devtools/browser") + launch_query(req, proxy.tickets(), config.token_required)}};
  return json_answer(200, version);
}

// Once the session is open: relay the client to its browser; the client's
// going closes the session.
void relay_to_launched(SessionUpstream& upstream, SessionManager& sessions, std::shared_ptr<TakenConnection> taken,
                       RelayBudget::Slot slot, const SessionInfo& session) {
  if (auto begun = sessions.begin_connection(session.id); !begun)
    return upstream.reply_and_close(std::move(*taken), error_answer(503, "unavailable", begun.error().message));
  auto to = UpstreamPort::of(session, url_port(session.endpoints.devtools_http.value_or("")));
  auto head = relayed_head(taken->head, url_path(session.endpoints.devtools_ws.value_or("/")), to.port);
  upstream.relay(std::move(*taken), std::move(slot), to, std::move(head),
                 [](const std::string& why) { return error_answer(502, "browser_unreachable", why); },
                 [&sessions, id = session.id] {
                   sessions.end_connection(id);
                   (void)sessions.close_in_background(id, std::nullopt, CloseReason::disconnected);
                 });
}

std::variant<HttpResponse, Takeover> launch(const HttpRequest& req, HttpServer& server, SessionManager& sessions,
                                            SessionUpstream& upstream, const DevToolsConfig& config) {
  if (!config.launch_on_connect) return error_response(404, "not_found", kLaunchIsOff);
  if (!is_websocket_upgrade(req))
    return error_response(400, "bad_request", "connect-to-launch takes a WebSocket upgrade");
  auto request = parse_launch_query(req.params);
  if (!request) {
    auto [status, code] = http_status_for(request.error().code);
    return error_response(status, code, request.error().message);
  }
  // Refused before a session opens: its relay counts in the total only (no
  // other client knows the new session's id yet).
  auto slot = upstream.reserve("");
  if (!slot) return relay_refused(slot.error());
  return Takeover{[&server, &sessions, &upstream, request = *request, slot = *slot](TakenConnection taken) {
    auto connection = std::make_shared<TakenConnection>(std::move(taken));
    auto run = [&server](std::function<void()> task) { server.post_work(std::move(task)); };
    (void)sessions.open_async(request, std::chrono::milliseconds(0), run,
                              [&upstream, &sessions, connection, slot](Result<SessionInfo> session) {
                                if (session) return relay_to_launched(upstream, sessions, connection, slot, *session);
                                auto [status, code] = http_status_for(session.error().code);
                                upstream.reply_and_close(std::move(*connection),
                                                         error_answer(status, code, session.error().message));
                              });
  }};
}

}  // namespace

void DevToolsRoutes::add_launch_routes(DevToolsProxy& proxy) {
  auto& routes = proxy.m_server.routes();
  // The token may come as ?token= here: a WebSocket client (Puppeteer's
  // browserWSEndpoint) cannot always send headers. The version hands out
  // tickets and must never take one.
  routes.add("GET", kRootVersionPath,
             [&proxy](const HttpRequest& req, HttpResponse& res) { res = root_version(req, proxy, proxy.m_config); },
             {Access::token_in_query});
  routes.add("GET", kRootListPath, [&proxy](const HttpRequest&, HttpResponse& res) {
    res = error_response(404, "not_found",
                         proxy.m_config.launch_on_connect
                             ? "corral's root lists no targets: connect to the webSocketDebuggerUrl of /json/version"
                             : kLaunchIsOff);
  });
  routes.add_head("GET", kLaunchPath, [&proxy](const HttpRequest& req) {
    // The ticket of a handed-out URL, if that is how this request came in:
    // the token check let it through for this check to make. One use only.
    auto tickets = literal_param_values(req.target, "ticket");
    if (req.has_param("ticket") && (tickets.size() != 1 || !proxy.tickets().redeem(tickets.front())))
      return std::variant<HttpResponse, Takeover>(
          error_response(401, "unauthorized", "this launch URL's ticket is used or expired: GET /json/version again"));
    return launch(req, proxy.m_server, proxy.m_sessions, proxy.m_upstream, proxy.m_config);
  }, {Access::launch_ticket});
}

}  // namespace corral
