// DevToolsProxy: each session's DevTools through corral's one address.
//
//  - /cdp/<id>/<secret>/json/...  Chrome's HTTP endpoints, fetched from the
//    session's browser and rewritten to point at corral (devtools_paths.hpp);
//  - /cdp/<id>/<secret>/devtools/...  the WebSocket of any target, relayed
//    to the browser with Host rewritten to its loopback address and Origin
//    dropped (Chrome refuses foreign ones): RelayHub, after checking that
//    the port is the session's own (listener_owner.hpp);
//  - connect-to-launch (--launch-on-connect; devtools_launch.cpp): a
//    WebSocket to /devtools/browser at corral's root opens a session and
//    relays to it; the client's disconnect closes it. GET /json/version at
//    the root points there.
//
// While a relay is open its session is not idle; when the session starts
// to close, for any reason, its relays end at once. Relays are bounded per
// session and in total (RelayBudget, shared with the WebDriver proxy): past
// a bound the upgrade is refused with a JSON 429 or 503 before it happens.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "corral/devtools/paths.hpp"
#include "corral/server/http_server.hpp"
#include "corral/server/websocket_upgrade.hpp"
#include "corral/devtools/launch_tickets.hpp"
#include "corral/proxy/relay_budget.hpp"
#include "corral/proxy/relay_hub.hpp"
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
  /// `relays` is shared with the WebDriver proxy and outlives both.
  DevToolsProxy(HttpServer& server, SessionManager& sessions, RelayBudget& relays, DevToolsConfig config);
  ~DevToolsProxy();
  DevToolsProxy(const DevToolsProxy&) = delete;
  DevToolsProxy& operator=(const DevToolsProxy&) = delete;

  /// Add the routes; before the server starts.
  void register_routes();
  /// Relays running now.
  size_t active_relays() const { return m_hub.active(); }
  /// Tickets for launch URLs; the token check lets a request that carries one through.
  LaunchTickets& tickets() { return m_tickets; }

 private:
  friend struct DevToolsRoutes;
  HttpServer& m_server;
  SessionManager& m_sessions;
  RelayBudget& m_relays;
  DevToolsConfig m_config;
  RelayHub m_hub;
  LaunchTickets m_tickets;
};

/// Every route of the proxy, for DevToolsProxy::register_routes (one file each).
struct DevToolsRoutes {
  static void add_session_routes(DevToolsProxy& proxy);  // devtools_proxy.cpp
  static void add_launch_routes(DevToolsProxy& proxy);   // devtools_launch.cpp
};

/// The request head a browser gets for a relayed WebSocket: `path` on
/// 127.0.0.1:port, the client's headers but Host (rewritten), Origin
/// (Chrome refuses foreign ones), and credentials meant for corral.
std::string upstream_head(const HttpRequest& req, const std::string& path, uint16_t port);

/// Bytes of a JSON error answer that closes the connection, for a client
/// whose connection was taken over.
std::string error_answer(int status, const std::string& code, const std::string& message);

/// The answer to an upgrade the RelayBudget refused: JSON 429 (the
/// session's bound) or 503 (the total), code too_many_relays.
HttpResponse relay_refused(const Error& refusal);

}  // namespace corral
