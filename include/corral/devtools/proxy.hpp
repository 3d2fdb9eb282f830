// DevToolsProxy: each session's DevTools through corral's one address.
//
//  - /cdp/<id>/<secret>/json/...  Chrome's HTTP endpoints, fetched from the
//    session's browser and rewritten to point at corral (paths.hpp);
//  - /cdp/<id>/<secret>/devtools/...  the WebSocket of any target, relayed
//    to the browser with Host rewritten to its loopback address and Origin
//    dropped (Chrome refuses foreign ones), through SessionUpstream, which
//    checks that the port is the session's own;
//  - connect-to-launch (--launch-on-connect; launch.cpp): a
//    WebSocket to /devtools/browser at corral's root opens a session and
//    relays to it; the client's disconnect closes it. GET /json/version at
//    the root points there.
//
// While a relay is open its session is not idle; when the session starts
// to close, for any reason, its relays end at once. Relays are bounded per
// session and in total (the RelayBudget SessionUpstream shares with the
// WebDriver proxy): past a bound the upgrade is refused with a JSON 429 or
// 503 before it happens.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "corral/devtools/paths.hpp"
#include "corral/server/http_server.hpp"
#include "corral/server/websocket_upgrade.hpp"
#include "corral/devtools/launch_tickets.hpp"
#include "corral/proxy/session_upstream.hpp"
#include "corral/session/manager.hpp"

namespace corral {

struct DevToolsConfig {
  PublicAddressing addressing;
  bool launch_on_connect = false;  ///< --launch-on-connect
  bool token_required = false;     ///< a launch URL handed out needs a ticket (launch_tickets.hpp)
  /// "156.0.8078.73", for GET /json/version at the root; "" while unknown.
  std::function<std::string()> browser_version;
};

class DevToolsProxy {
 public:
  /// `upstream` is shared with the WebDriver proxy and outlives both.
  DevToolsProxy(HttpServer& server, SessionManager& sessions, SessionUpstream& upstream, DevToolsConfig config);
  DevToolsProxy(const DevToolsProxy&) = delete;
  DevToolsProxy& operator=(const DevToolsProxy&) = delete;

  /// Add the routes; before the server starts.
  void register_routes();
  /// Tickets for launch URLs; the token check lets a request that carries one through.
  LaunchTickets& tickets() { return m_tickets; }

 private:
  friend struct DevToolsRoutes;
  HttpServer& m_server;
  SessionManager& m_sessions;
  SessionUpstream& m_upstream;
  DevToolsConfig m_config;
  LaunchTickets m_tickets;
};

/// Every route of the proxy, for DevToolsProxy::register_routes (one file each).
struct DevToolsRoutes {
  static void add_session_routes(DevToolsProxy& proxy);  // proxy.cpp
  static void add_launch_routes(DevToolsProxy& proxy);   // launch.cpp
};


/// Bytes of a JSON error answer that closes the connection, for a client
/// whose connection was taken over.
std::string error_answer(int status, const std::string& code, const std::string& message);

/// The answer to an upgrade the RelayBudget refused: JSON 429 (the
/// session's bound) or 503 (the total), code too_many_relays.
HttpResponse relay_refused(const Error& refusal);

}  // namespace corral
