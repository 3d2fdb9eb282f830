// A WebDriver session's WebSockets through corral: se:cdp to the browser's
// DevTools browser target, webSocketUrl to chromedriver's BiDi. Selenium
// opens them without headers, so the session's secret in the path stands in
// for the token (their routes declare Access::session_secret, so this check is theirs).
#include <spdlog/spdlog.h>

#include "corral/server/auth.hpp"
#include "corral/server/websocket_upgrade.hpp"
#include "corral/webdriver/errors.hpp"
#include "corral/webdriver/paths.hpp"
#include "corral/webdriver/proxy.hpp"
#include "corral/proxy/relayed_head.hpp"

namespace corral {
namespace {

// A WebSocket's far end: a port of the session, and the path there.
struct SocketEnd {
  UpstreamPort to;
  std::string path;
};

// Where a socket path leads, if its secret is the running session's own.
std::optional<SocketEnd> socket_end(SessionManager& sessions, const std::optional<WebDriverProxy::Driven>& driven,
                                    const SocketTarget& target) {
  auto session = sessions.get(target.session_id);
  if (!session || !driven || session->state != SessionState::running ||
      !constant_time_equal(session->access_secret, target.secret))
    return std::nullopt;
  // chromedriver (156) serves its BiDi WebSockets outside --url-base: at
  // /session/<its session id>, which only corral knows.
  const auto& binding = driven->binding;
  if (target.kind == SocketKind::bidi) return SocketEnd{driven->chromedriver, driver_target("", binding.driver_id, "")};
  if (binding.debugger_port == 0 || binding.browser_path.empty()) return std::nullopt;
  return SocketEnd{driven->chromedriver.at(binding.debugger_port), binding.browser_path};
}

std::string browser_unreachable(const std::string& why) {
  auto res = webdriver_error(502, "unknown error", "the session's browser did not answer: " + why);
  res.set_header("Connection", "close");
  return serialize(res, false);
}

std::variant<HttpResponse, Takeover> relay(SessionManager& sessions, SessionUpstream& upstream,
                                           const std::optional<WebDriverProxy::Driven>& driven,
                                           const HttpRequest& req) {
  auto target = parse_socket_path(req.path);
  auto end = target ? socket_end(sessions, driven, *target) : std::nullopt;
  if (!end) return invalid_session_id("no running WebDriver session with that id and secret");
  if (!is_websocket_upgrade(req)) return invalid_argument("this path takes a WebSocket upgrade");
  // W3C has no error for "too many"; "unknown error" with 429 or 503 is what
  // webdriver_error_name_for gives those statuses.
  auto slot = upstream.reserve(end->to.session_id);
  if (!slot) return webdriver_error(relay_refusal_status(slot.error()), "unknown error", slot.error().message);
  if (auto begun = sessions.begin_connection(end->to.session_id); !begun) return invalid_session_id();
  auto head = relayed_head(req, end->path, end->to.port);
  return Takeover{[&sessions, &upstream, to = end->to, head = std::move(head), slot = *slot](TakenConnection taken) {
    upstream.relay(std::move(taken), slot, to, head, browser_unreachable,
                   [&sessions, id = to.session_id] { sessions.end_connection(id); });
  }};
}

}  // namespace

void WebDriverRoutes::add_socket_routes(WebDriverProxy& proxy) {
  for (const std::string& prefix : kWebDriverPrefixes)
    proxy.m_server.routes().add_head(
        "GET", prefix + "/session/[0-9a-f]{12}/[0-9a-f]{32}/se/(cdp|bidi)",
        [&proxy](const HttpRequest& req) {
          auto target = parse_socket_path(req.path);
          return relay(proxy.m_sessions, proxy.m_upstream,
                       target ? proxy.driven(target->session_id) : std::nullopt, req);
        },
        webdriver_rules(Access::session_secret));  // the secret in the path stands in for the token
}

}  // namespace corral
