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
//  - GET /status says whether a new session would be admitted now.
// Every port is reached through SessionUpstream, which checks it is the
// session's own before a byte goes to it. Errors are W3C's (errors.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "corral/api/public_address.hpp"
#include "corral/server/http_server.hpp"
#include "corral/proxy/session_upstream.hpp"
#include "corral/webdriver/capabilities.hpp"
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

  HttpServer& m_server;
  SessionManager& m_sessions;
  SessionUpstream& m_upstream;
  WebDriverConfig m_config;
  mutable std::mutex m_mutex;
  std::map<std::string, Driven> m_driven;  ///< by corral's session id, while it runs
  int m_listener = 0;
};

/// The proxy's routes, one file each.
struct WebDriverRoutes {
  static void add_new_session_route(WebDriverProxy& proxy);  // new_session.cpp
  static void add_command_routes(WebDriverProxy& proxy);     // proxy.cpp
  static void add_socket_routes(WebDriverProxy& proxy);      // sockets.cpp
  static void new_session(WebDriverProxy& proxy, const HttpRequest& req, Reply reply);
  static void plan_and_open(WebDriverProxy& proxy, const HttpRequest& req, Reply reply);
  static void remember(WebDriverProxy& proxy, const std::string& id, WebDriverProxy::Driven driven,
                       std::function<void()> then) {
    proxy.remember(id, std::move(driven), std::move(then));
  }
};

/// The HTTP/1.1 request chromedriver (or a browser) gets for a forwarded
/// command: Host its own, no Origin, no credentials; keep-alive for a
/// command over a kept connection (RelayHub::exchange), else close.
std::string driver_request(const std::string& method, const std::string& target, uint16_t port,
                           const std::string& body, bool keep_alive = false);

}  // namespace corral
