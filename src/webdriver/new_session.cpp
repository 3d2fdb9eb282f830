// WebDriver's new session through corral: capabilities made fit
// (capabilities.cpp), a chromedriver-kind session opened (waiting
// for room up to --new-session-wait, holding no thread), the request
// forwarded to its chromedriver, the browser's DevTools target asked for
// (for se:cdp), and the answer rewritten to corral's id and URLs. Whatever
// fails after the open closes the session again; on a claimed warm
// chromedriver, whose attach failed, the same new session then starts cold
// once (refused), and the bot hears only of that. The body (up to 32 MiB)
// is parsed and planned on the worker pool, so that the I/O threads keep
// answering the API meanwhile; with bounds (json_bounded.hpp), as is
// everything the session's chromedriver and browser answer. A relayed
// client's new session (relayed.cpp) takes the same way from the forward
// on, with a session open already that outlives a failure.
#include <spdlog/spdlog.h>

#include "corral/server/pending_reply.hpp"
#include "corral/webdriver/errors.hpp"
#include "corral/webdriver/paths.hpp"
#include "corral/webdriver/proxy.hpp"
#include "corral/util/json_bounded.hpp"
#include "corral/util/url.hpp"

namespace corral {
namespace {
using nlohmann::json;
using namespace std::chrono;

// One new session from the open on: what it knows, and its reply.
struct Start {
  WebDriverProxy::Driven driven;
  SessionInfo session;
  NewSessionPlan plan;
  std::optional<PublicBase> base;
  std::shared_ptr<PendingReply> pending;
  bool relayed = false;  ///< on a session its owner opened (and closes): claimed, not closed on failure
  /// A claimed warm chromedriver's only: the forward as a cold start sends
  /// it, kept for the cold start that replaces a failed attach (a hit's
  /// body has no extensions: small). Taken by that start: one retry.
  std::optional<json> cold_forward;
};
using StartPtr = std::shared_ptr<Start>;

// chromedriver refused, or corral could not use its answer: the session
// goes, unless its owner opened it for a relayed client, who may try again.
void give_up(WebDriverProxy& proxy, SessionManager& sessions, const Start& start, HttpResponse answer,
             bool connected = true) {
  if (connected) sessions.end_connection(start.session.id);
  if (start.relayed) WebDriverRoutes::release_relay(proxy, start.session.id);
  else (void)sessions.close_in_background(start.session.id, milliseconds(0), CloseReason::start_failed);
  start.pending->finish(std::move(answer));
}

// What the session's own process answered, parsed with bounds; null for
// what is not JSON, and for what is beyond the bounds, with a warning: the
// browser runs as the session's user, so this may be an attack.
json session_answer(const std::string& session_id, const char* what, const std::string& body) {
  auto parsed = parse_json_bounded(body);
  if (parsed) return std::move(*parsed);
  if (parsed.error().code == E2BIG)
    spdlog::warn("session {}: {} refused: JSON {}", session_id, what, parsed.error().message);
  return nullptr;
}

SessionUrls urls_for(const Start& start, const json& version) {
  SessionUrls urls;
  if (!start.base) return urls;
  if (start.driven.binding.debugger_port && !start.driven.binding.browser_path.empty())
    urls.cdp = start.base->ws_url(socket_path(start.session.id, start.session.access_secret, SocketKind::cdp));
  if (version.is_object() && version.contains("Browser") && version["Browser"].is_string())
    urls.cdp_version = cdp_version_of(version["Browser"].get<std::string>());
  if (start.plan.bidi)
    urls.bidi = start.base->ws_url(socket_path(start.session.id, start.session.access_secret, SocketKind::bidi));
  return urls;
}

// The browser answered (or not) which target is its own: remember the
// session and answer the bot.
void finish(WebDriverProxy& proxy, SessionManager& sessions, const StartPtr& start, DriverSession driver,
            Result<RelayHub::Fetched> version) {
  json answer;
  if (version && version->status == 200) {
    answer = session_answer(start->session.id, "the browser's /json/version", version->body);
    if (answer.is_object() && answer.value("webSocketDebuggerUrl", json()).is_string())
      start->driven.binding.browser_path = url_path(answer["webSocketDebuggerUrl"].get<std::string>());
  } else {
    spdlog::info("session {}: the browser's /json/version did not answer ({}); no se:cdp", start->session.id,
                 version ? std::to_string(version->status) : version.error().message);
  }
  auto urls = urls_for(*start, answer);
  auto reply =
      webdriver_json(200, client_new_session_reply(std::move(driver), start->session.id, urls, start->plan.warnings));
  // The bot hears of its session once the binding is in the state file: a
  // corrald killed right after still serves the session when restarted.
  WebDriverRoutes::remember(proxy, start->session.id, start->driven, [&sessions, start, reply]() {
    sessions.end_connection(start->session.id);
    spdlog::info("session {}: WebDriver session started", start->session.id);
    start->pending->finish(reply);
  });
  if (start->relayed) WebDriverRoutes::release_relay(proxy, start->session.id);  // bound now: remember has it
}

void session_opened(WebDriverProxy& proxy, SessionManager& sessions, SessionUpstream& upstream, const StartPtr& start);

// chromedriver refused the new session (`why`), or corral could not use its
// answer. On a claimed warm member that is the pool's failure, not the
// bot's: the member ends and the same new session starts cold, once; the
// bot gets `answer` only if it cannot (give_up, on the cold session).
void refused(WebDriverProxy& proxy, SessionManager& sessions, SessionUpstream& upstream, const StartPtr& start,
             HttpResponse answer, const std::string& why) {
  if (!start->cold_forward) return give_up(proxy, sessions, *start, std::move(answer));
  sessions.end_connection(start->session.id);
  start->plan.forward = std::move(*start->cold_forward);
  start->cold_forward.reset();
  WebDriverRoutes::start_cold_instead(proxy, start->session.id, start->plan.request, why,
                                      [&proxy, &sessions, &upstream, start](Result<SessionInfo> opened) {
                                        if (!opened) return start->pending->finish(new_session_failure(opened.error()));
                                        start->session = std::move(*opened);
                                        session_opened(proxy, sessions, upstream, start);
                                      });
}

// chromedriver's error as the bot gets it (its own W3C error when it gave
// one), and in `why` for the log: the status and its message's first line.
HttpResponse driver_error(const Start& start, const RelayHub::Fetched& answer, std::string& why) {
  why = "chromedriver answered " + std::to_string(answer.status);
  auto body = session_answer(start.session.id, "chromedriver's new-session error", answer.body);
  if (!body.is_object() || !body.contains("value") || !body["value"].is_object() || !body["value"].contains("error"))
    return session_not_created(why);
  auto message = body["value"].value("message", json());
  if (message.is_string()) why += ": " + message.get<std::string>().substr(0, 200);
  if (auto line = why.find('\n'); line != std::string::npos) why.resize(line);
  return webdriver_json(answer.status, body);
}

void driver_answered(WebDriverProxy& proxy, SessionManager& sessions, SessionUpstream& upstream, const StartPtr& start,
                     Result<RelayHub::Fetched> answer) {
  if (!answer) {
    auto why = "chromedriver did not answer: " + answer.error().message;
    return refused(proxy, sessions, upstream, start, session_not_created(why), why);
  }
  if (answer->status != 200) {
    std::string why;
    auto error = driver_error(*start, *answer, why);
    return refused(proxy, sessions, upstream, start, std::move(error), why);
  }
  auto driver = parse_driver_session(answer->body);
  if (!driver) {
    spdlog::warn("session {}: {}", start->session.id, driver.error().message);
    return refused(proxy, sessions, upstream, start, session_not_created(driver.error().message), driver.error().message);
  }
  if (start->cold_forward) sessions.warm_attach_succeeded(start->session.request.kind);
  start->driven.binding.driver_id = driver->id;
  if (!driver->debugger_port) driver->debugger_port = start->session.warm_browser_port;
  start->driven.binding.debugger_port = driver->debugger_port;
  if (!driver->debugger_port)
    return finish(proxy, sessions, start, std::move(*driver), Error::make(ENOENT, "no debuggerAddress"));
  auto browser = start->driven.chromedriver.at(driver->debugger_port);
  upstream.fetch(browser, driver_request("GET", "/json/version", browser.port, ""),
                 [&proxy, &sessions, start, driver = std::move(*driver)](Result<RelayHub::Fetched> version) mutable {
                   finish(proxy, sessions, start, std::move(driver), std::move(version));
                 });
}

void session_opened(WebDriverProxy& proxy, SessionManager& sessions, SessionUpstream& upstream, const StartPtr& start) {
  const auto& session = start->session;
  if (!session.endpoints.webdriver || !sessions.begin_connection(session.id))
    return give_up(proxy, sessions, *start, session_not_created("the session's chromedriver is not there"), false);
  start->driven = WebDriverProxy::Driven::of(session);
  // A warm chromedriver's browser runs already: the bot's session attaches to it.
  if (session.warm_browser_port) {
    if (!start->relayed) start->cold_forward = start->plan.forward;
    attach_to_warm_browser(start->plan.forward, session.warm_browser_port);
  }
  // The plan's document is freed once it is text, and the text once it is
  // in the request: with the request that came in, at most three copies
  // of a large body at once.
  auto forward = start->plan.forward.dump();
  start->plan.forward = json();
  const auto& chromedriver = start->driven.chromedriver;
  auto request = driver_request("POST", start->driven.driver_base + "/session", chromedriver.port, forward);
  forward = std::string();
  auto timeout = sessions.config().start_timeout + seconds(30);  // chromedriver starts the browser meanwhile
  upstream.forward(chromedriver, std::move(request), timeout, 16 << 20,
                   [&proxy, &sessions, &upstream, start](Result<RelayHub::Fetched> answer) {
                     driver_answered(proxy, sessions, upstream, start, std::move(answer));
                   });
}

}  // namespace

void WebDriverRoutes::new_session(WebDriverProxy& proxy, const HttpRequest& req, Reply reply) {
  if (req.body.size() > kMaxNewSessionBody) return reply(invalid_argument("the new-session body is over 32 MiB"));
  // The request lives until the reply (router.hpp), so the worker may read it.
  proxy.m_server.post_work([&proxy, &req, reply = std::move(reply)]() mutable {
    plan_and_open(proxy, req, std::move(reply));
  });
}

namespace {

// The body parsed (with bounds) and planned; nullopt, with `refusal` the
// W3C answer, when it cannot be.
std::optional<NewSessionPlan> planned(const HttpRequest& req, const CorralBrowser& browser, HttpResponse& refusal) {
  auto body = parse_json_bounded(req.body);
  if (!body && body.error().code == E2BIG) refusal = invalid_argument("the body is JSON " + body.error().message);
  else if (!body) refusal = invalid_argument("the body is not JSON");
  if (!body) return std::nullopt;
  auto plan = plan_new_session(std::move(*body), browser);
  if (!plan && plan.error().code == ENOTSUP) refusal = session_not_created(plan.error().message);
  else if (!plan) refusal = invalid_argument(plan.error().message);
  if (!plan) return std::nullopt;
  return std::move(*plan);
}

}  // namespace

// On the worker pool: the body parsed (with bounds) and planned, then the
// open, which waits for room holding no thread.
void WebDriverRoutes::plan_and_open(WebDriverProxy& proxy, const HttpRequest& req, Reply reply) {
  HttpResponse refusal;
  auto plan = planned(req, proxy.m_config.browser, refusal);
  if (!plan) return reply(std::move(refusal));
  auto start = std::make_shared<Start>();
  start->plan = std::move(*plan);
  start->base = proxy.m_config.addressing.base_for(req);
  start->pending = std::make_shared<PendingReply>(std::move(reply));
  auto& server = proxy.m_server;
  auto& sessions = proxy.m_sessions;
  auto wait = proxy.m_config.new_session_wait;
  auto waiter = sessions.open_async(
      start->plan.request, wait, [&server](std::function<void()> task) { server.post_work(std::move(task)); },
      [&proxy, start](Result<SessionInfo> session) {
        if (!session) return start->pending->finish(new_session_failure(session.error()));
        start->session = std::move(*session);
        session_opened(proxy, proxy.m_sessions, proxy.m_upstream, start);
      });
  if (waiter) start->pending->arm(server.call_after(wait, [&sessions, waiter] { sessions.give_up_waiting(waiter); }));
}

// A relayed client's new session: the same plan, on the session its owner
// opened (its own limits, so corral:options has no place here). On the
// worker pool, as plan_and_open; the claim goes with the answer.
void WebDriverRoutes::bind_relayed(WebDriverProxy& proxy, const HttpRequest& req, SessionInfo session, Reply reply) {
  proxy.m_server.post_work([&proxy, &req, session = std::move(session), reply = std::move(reply)]() mutable {
    HttpResponse refusal;
    auto plan = planned(req, proxy.m_config.browser, refusal);
    if (plan && plan->corral_options)
      refusal = invalid_argument("corral:options is refused here: this session is open already, with its own limits");
    if (!plan || plan->corral_options) {
      proxy.release_relay(session.id);
      return reply(std::move(refusal));
    }
    auto start = std::make_shared<Start>();
    start->plan = std::move(*plan);
    start->session = std::move(session);
    start->relayed = true;
    start->base = proxy.m_config.addressing.base_for(req);
    start->pending = std::make_shared<PendingReply>(std::move(reply));
    session_opened(proxy, proxy.m_sessions, proxy.m_upstream, start);
  });
}

void WebDriverRoutes::start_cold_instead(WebDriverProxy& proxy, const std::string& failed_id,
                                         const SessionRequest& request, const std::string& why,
                                         SessionManager::Opened opened) {
  proxy.m_server.post_work([&proxy, failed_id, request, why, opened = std::move(opened)] {
    opened(proxy.m_sessions.open_cold_after_failed_attach(failed_id, request, why, proxy.m_config.new_session_wait));
  });
}

void WebDriverRoutes::add_new_session_route(WebDriverProxy& proxy) {
  for (const std::string& prefix : kWebDriverPrefixes)
    proxy.m_server.routes().add_async(
        "POST", prefix + "/session",
        [&proxy](const HttpRequest& req, Reply reply) { new_session(proxy, req, std::move(reply)); },
        webdriver_rules(), kMaxNewSessionBody + (1 << 20));
}

}  // namespace corral
