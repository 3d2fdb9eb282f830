// A WebDriver session's WebSockets through corral: se:cdp to the browser's
// DevTools browser target, webSocketUrl to chromedriver's BiDi. Selenium
// opens them without headers, so the session's secret in the path stands in
// for the token (auth.cpp lets these paths through to this check).
#include <spdlog/spdlog.h>

#include "corral/server/auth.hpp"
#include "corral/devtools/proxy.hpp"
#include "corral/webdriver/errors.hpp"
#include "corral/webdriver/paths.hpp"
#include "corral/webdriver/proxy.hpp"
#include "corral/cgroup/listener_owner.hpp"

namespace corral {
namespace {

struct Upstream {
  std::string id;
  uint16_t port = 0;
  std::string path;
  std::string cgroup;
  std::optional<uid_t> uid;
};

// Where a socket path leads, if its secret is the running session's own.
std::optional<Upstream> upstream_for(SessionManager& sessions, const std::optional<WebDriverProxy::Driven>& driven,
                                     const SocketTarget& target) {
  auto session = sessions.get(target.session_id);
  if (!session || !driven || session->state != SessionState::running ||
      !constant_time_equal(session->access_secret, target.secret))
    return std::nullopt;
  // chromedriver (156) serves its BiDi WebSockets outside --url-base: at
  // /session/<its session id>, which only corral knows.
  if (target.kind == SocketKind::bidi)
    return Upstream{session->id, driven->driver_port, driver_target("", driven->driver_id, ""), driven->cgroup,
                    driven->uid};
  if (driven->debugger_port == 0 || driven->browser_path.empty()) return std::nullopt;
  return Upstream{session->id, driven->debugger_port, driven->browser_path, driven->cgroup, driven->uid};
}

std::variant<HttpResponse, Takeover> relay(SessionManager& sessions, RelayHub& hub, RelayBudget& relays,
                                           const std::optional<WebDriverProxy::Driven>& driven,
                                           const HttpRequest& req) {
  auto target = parse_socket_path(req.path);
  auto upstream = target ? upstream_for(sessions, driven, *target) : std::nullopt;
  if (!upstream) return invalid_session_id("no running WebDriver session with that id and secret");
  if (!is_websocket_upgrade(req)) return invalid_argument("this path takes a WebSocket upgrade");
  // W3C has no error for "too many"; "unknown error" with 429 or 503 is what
  // webdriver_error_name_for gives those statuses.
  auto slot = relays.reserve(upstream->id);
  if (!slot) return webdriver_error(relay_refusal_status(slot.error()), "unknown error", slot.error().message);
  if (auto begun = sessions.begin_connection(upstream->id); !begun) return invalid_session_id();
  auto head = upstream_head(req, upstream->path, upstream->port);
  return Takeover{[&sessions, &hub, upstream = *upstream, head = std::move(head), slot = *slot,
                   idle_timeout = relays.limits().idle_timeout](TakenConnection taken) {
    RelayHub::Plan plan;
    plan.held = {std::move(taken.counted), slot};
    plan.idle_timeout = idle_timeout;
    plan.client = std::move(taken.socket);
    plan.group = upstream.id;
    plan.upstream_port = upstream.port;
    plan.check_upstream = [port = upstream.port, cgroup = upstream.cgroup, uid = upstream.uid] {
      return check_session_port(port, Cgroup(cgroup), uid);
    };
    plan.to_upstream = head + taken.buffered;
    plan.failure_answer = [](const std::string& why) {
      auto res = webdriver_error(502, "unknown error", "the session's browser did not answer: " + why);
      res.set_header("Connection", "close");
      return serialize(res, false);
    };
    plan.on_end = [&sessions, id = upstream.id] { sessions.end_connection(id); };
    hub.start(std::move(plan));
  }};
}

}  // namespace

void WebDriverRoutes::add_socket_routes(WebDriverProxy& proxy) {
  for (const std::string& prefix : kWebDriverPrefixes)
    proxy.m_server.routes().add_head(
        "GET", prefix + "/session/[0-9a-f]{12}/[0-9a-f]{32}/se/(cdp|bidi)",
        [&proxy](const HttpRequest& req) {
          auto target = parse_socket_path(req.path);
          return relay(proxy.m_sessions, proxy.m_hub, proxy.m_relays,
                       target ? proxy.driven(target->session_id) : std::nullopt, req);
        },
        webdriver_rules(Access::session_secret));  // the secret in the path stands in for the token
}

}  // namespace corral
