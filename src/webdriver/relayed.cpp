// A chromedriver-kind session that POST /v1/sessions opened, driven
// through corral: its `webdriver` URL is a base on corral's address,
// /webdriver/<id>/<secret>, that a Selenium client takes as its remote URL.
// Under it, POST /session is planned with the checks of corral's own
// endpoint (new_session.cpp), one WebDriver session at a time; GET /status
// and /session/<id>/... go to the session's own chromedriver (proxy.cpp),
// and a quit leaves the session running for its owner to close. The secret
// in the path stands in for the token, as on /cdp/: these routes declare
// Access::session_secret, so the check is theirs. chromedriver's own
// address and secret base are never handed out.
#include <spdlog/spdlog.h>

#include "corral/api/public_address.hpp"
#include "corral/server/auth.hpp"
#include "corral/webdriver/errors.hpp"
#include "corral/webdriver/paths.hpp"
#include "corral/webdriver/proxy.hpp"
#include "corral/server/untrusted_answer.hpp"

namespace corral {
namespace {

// The shape of a relayed target; parse_relayed_target checks it again.
const char* kRelayedPath = R"(/webdriver/[0-9a-f]{12}/[0-9a-f]{32}(/.*)?)";

// The running chromedriver-kind session a relayed target names, if the
// secret is its own.
std::optional<SessionInfo> relayed_session(SessionManager& sessions, const RelayedTarget& target) {
  auto session = sessions.get(target.session_id);
  if (!session || session->state != SessionState::running || !session->endpoints.webdriver ||
      !constant_time_equal(session->access_secret, target.secret))
    return std::nullopt;
  return *session;
}

// chromedriver's /status, as it answers it: names no session.
void forward_status(SessionUpstream& upstream, const SessionInfo& session, Reply reply) {
  auto driven = WebDriverProxy::Driven::of(session);
  auto request = driver_request("GET", driven.driver_base + "/status", driven.chromedriver.port, "");
  upstream.fetch(driven.chromedriver, std::move(request), [reply](Result<RelayHub::Fetched> fetched) {
    if (!fetched)
      return reply(webdriver_error(502, "unknown error", "the session's chromedriver did not answer: " +
                                                             fetched.error().message));
    HttpResponse res;
    res.status = fetched->status;
    res.set_content(std::move(fetched->body), fetched->content_type.empty() ? "application/json; charset=utf-8"
                                                                            : fetched->content_type);
    res.set_header("Cache-Control", "no-cache");
    mark_untrusted_answer(res);
    reply(std::move(res));
  });
}

}  // namespace

// What the client asked of its remote URL, once the secret is checked.
void WebDriverRoutes::serve_relayed(WebDriverProxy& proxy, const HttpRequest& req, Reply reply) {
  auto target = parse_relayed_target(req.target);
  auto session = target ? relayed_session(proxy.m_sessions, *target) : std::nullopt;
  if (!session) return reply(invalid_session_id("no running chromedriver session with that id and secret"));
  std::string_view rest = target->rest;
  auto path = rest.substr(0, rest.find('?'));
  if (path == "/status" && req.method == "GET") return forward_status(proxy.m_upstream, *session, std::move(reply));
  if (path == "/session" && req.method == "POST") {
    if (!proxy.claim_relay(session->id))
      return reply(session_not_created("session " + session->id +
                                       " has a WebDriver session already: one at a time, quit it first"));
    return WebDriverRoutes::bind_relayed(proxy, req, std::move(*session), std::move(reply));
  }
  auto command = parse_webdriver_target(rest);
  if (!command) return reply(webdriver_error(404, "unknown command", "no such WebDriver command"));
  if (command->session_id != session->id)
    return reply(invalid_session_id("this base drives WebDriver session " + session->id + " only"));
  WebDriverRoutes::forward_command(proxy, *command, req, WebDriverRoutes::AfterQuit::keep_session, std::move(reply));
}

void WebDriverRoutes::add_relayed_routes(WebDriverProxy& proxy) {
  auto& routes = proxy.m_server.routes();
  auto rules = webdriver_rules(Access::session_secret);  // the secret in the path stands in for the token
  for (const char* method : {"GET", "POST", "DELETE"}) {
    // A POST may be the new session, with its extensions; the rest are commands.
    size_t max_body = method == std::string_view("POST") ? kMaxNewSessionBody + (1 << 20) : kMaxCommandBody + 4096;
    routes.add_async(
        method, kRelayedPath,
        [&proxy](const HttpRequest& req, Reply reply) { serve_relayed(proxy, req, std::move(reply)); }, rules,
        max_body);
  }
  // Any other request under the prefix: W3C's answer, with or without the
  // token (a relayed client never needs the API's).
  for (const char* method : {"GET", "POST", "DELETE"})
    routes.add_async(method, std::string(kWebDriverRelayPrefix) + ".*", [](const HttpRequest&, Reply reply) {
      reply(invalid_session_id("no running chromedriver session with that id and secret"));
    }, rules);
  routes.add_fallback(std::string(kWebDriverRelayPrefix) + ".*", rules);
}

}  // namespace corral
