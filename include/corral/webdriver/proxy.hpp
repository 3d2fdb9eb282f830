// WebDriverProxy: corral as a WebDriver endpoint (Selenium's remote URL),
// at the root and under /wd/hub.
//
//  - POST /session opens a chromedriver-kind session (waiting for room up
//    to --new-session-wait) and forwards the new-session request to its
//    chromedriver with the capabilities made fit (capabilities.hpp);
//  - every command under /session/<corral id>/ is forwarded to that
//    chromedriver, asynchronously and with no deadline shorter than the
//    session's own; while one is in flight the session is not idle;
//  - DELETE /session/<id> forwards the quit, then runs the verified cleanup;
//  - se:cdp and webSocketUrl are WebSockets through corral, to the browser's
//    DevTools and chromedriver's BiDi, opened with the session's secret;
//  - GET /status says whether a new session would be admitted now;
//  - a chromedriver-kind session opened by POST /v1/sessions is driven at
//    its relayed base, /webdriver/<id>/<secret> (relayed.cpp): the same
//    checks on its new session, one WebDriver session at a time, and a quit
//    that leaves the session running (its owner closes it).
// Every port is reached through SessionUpstream, which checks it is the
// session's own before a byte goes to it. Errors are W3C's (errors.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "corral/api/public_address.hpp"
#include "corral/server/http_server.hpp"
#include "corral/proxy/session_upstream.hpp"
#include "corral/webdriver/capabilities.hpp"
#include "corral/webdriver/paths.hpp"
#include "corral/session/manager.hpp"

namespace corral {

struct WebDriverConfig {
  PublicAddressing addressing;
  CorralBrowser browser;  ///< the binary and flags every session's browser gets
  std::chrono::milliseconds new_session_wait{30000};  ///< --new-session-wait
};

/// Largest new-session body (extensions come base64-encoded in it).
inline constexpr size_t kMaxNewSessionBody = 32 << 20;
/// Largest body of any other command (executeScript arguments, an upload).
inline constexpr size_t kMaxCommandBody = 8 << 20;

class WebDriverProxy {
 public:
  /// `upstream` is shared with the DevTools proxy and outlives both.
  WebDriverProxy(HttpServer& server, SessionManager& sessions, SessionUpstream& upstream, WebDriverConfig config);
  ~WebDriverProxy();
  WebDriverProxy(const WebDriverProxy&) = delete;
  WebDriverProxy& operator=(const WebDriverProxy&) = delete;

  /// Add the routes; before the server starts.
  void register_routes();

  /// What corral knows of a WebDriver session beyond SessionManager's view.
  struct Driven {
    UpstreamPort chromedriver;  ///< the session's chromedriver (the port of endpoints.webdriver)
    std::string driver_base;    ///< the secret path it answers under (driver_url_base); never logged
    DriverBinding binding;      ///< the client's chromedriver session, and its browser (SessionInfo::driver)

    /// A session's chromedriver, before a client's session is bound to it.
    static Driven of(const SessionInfo& session);
  };

 private:
  friend struct WebDriverRoutes;
  std::optional<Driven> driven(const std::string& id) const;
  /// Keep `driven` for `id`, in memory and in the state file; `then` runs
  /// (on a worker) once the state file has it.
  void remember(const std::string& id, Driven driven, std::function<void()> then);
  void adopt_driven_sessions();
  /// A relayed client's new session on `id` may start: false while one is
  /// bound there or being made. release_relay once it is bound or failed.
  bool claim_relay(const std::string& id);
  void release_relay(const std::string& id);
  /// A relayed client quit: its binding is forgotten and the session runs on.
  void forget_binding(const std::string& id);

  HttpServer& m_server;
  SessionManager& m_sessions;
  SessionUpstream& m_upstream;
  WebDriverConfig m_config;
  mutable std::mutex m_mutex;
  std::map<std::string, Driven> m_driven;  ///< by corral's session id, while it runs
  std::set<std::string> m_relay_claims;    ///< relayed new sessions under way
  int m_listener = 0;
};

/// The proxy's routes, one file each.
struct WebDriverRoutes {
  static void add_new_session_route(WebDriverProxy& proxy);  // new_session.cpp
  static void add_command_routes(WebDriverProxy& proxy);     // proxy.cpp
  static void add_socket_routes(WebDriverProxy& proxy);      // sockets.cpp
  static void add_relayed_routes(WebDriverProxy& proxy);     // relayed.cpp
  static void serve_relayed(WebDriverProxy& proxy, const HttpRequest& req, Reply reply);
  static void new_session(WebDriverProxy& proxy, const HttpRequest& req, Reply reply);
  static void plan_and_open(WebDriverProxy& proxy, const HttpRequest& req, Reply reply);
  /// A relayed client's new session on `session`, open already and claimed
  /// (claim_relay): planned like any, and on failure the session runs on.
  static void bind_relayed(WebDriverProxy& proxy, const HttpRequest& req, SessionInfo session, Reply reply);
  /// A claimed warm chromedriver (`failed_id`) refused the attach: on a
  /// worker, the member ends and `request` opens cold in its place
  /// (SessionManager::open_cold_after_failed_attach); `opened` has the result.
  static void start_cold_instead(WebDriverProxy& proxy, const std::string& failed_id, const SessionRequest& request,
                                 const std::string& why, SessionManager::Opened opened);

  /// What a forwarded quit does to corral's session: corral's own endpoint
  /// opened it for this client, so it closes; a relayed client's quit only
  /// ends its WebDriver session.
  enum class AfterQuit { close_session, keep_session };
  static void forward_command(WebDriverProxy& proxy, const WebDriverTarget& target, const HttpRequest& req,
                              AfterQuit after, Reply reply);
  static void remember(WebDriverProxy& proxy, const std::string& id, WebDriverProxy::Driven driven,
                       std::function<void()> then) {
    proxy.remember(id, std::move(driven), std::move(then));
  }
  static void release_relay(WebDriverProxy& proxy, const std::string& id) { proxy.release_relay(id); }
};

/// The HTTP/1.1 request chromedriver (or a browser) gets for a forwarded
/// command: Host its own, no Origin, no credentials; keep-alive for a
/// command over a kept connection (RelayHub::exchange), else close.
std::string driver_request(const std::string& method, const std::string& target, uint16_t port,
                           const std::string& body, bool keep_alive = false);

}  // namespace corral
