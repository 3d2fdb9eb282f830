// Router: which handler answers a request, by method and a path pattern (a
// std::regex over the whole decoded path). Three kinds of handler:
//  - plain: fills an HttpResponse; runs on the I/O thread (cheap work only)
//    or on the server's worker pool (work that blocks: a close's kill wait);
//  - async: gets a Reply to call once, from any thread, when the answer is
//    ready (an open that waits for room holds no thread meanwhile);
//  - head: runs once the request head is read, before its body, and either
//    answers or takes the connection over (a WebSocket upgrade, a proxied
//    request), after which the API's time and keep-alive limits no longer
//    apply to it.
// Each route also declares, where it is registered, who may call it
// (Access) and how a refusal of the checks before its body is written
// (ErrorShape): the server finds the route first and hands the checks
// its rules, so the checks know no paths.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <variant>
#include <vector>

#include "corral/server/http_message.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// Send the answer to a request. Call exactly once, from any thread.
using Reply = std::function<void(HttpResponse)>;
using PlainHandler = std::function<void(const HttpRequest&, HttpResponse&)>;
/// The request (body included) lives until the reply is sent.
using AsyncHandler = std::function<void(const HttpRequest&, Reply)>;

/// A connection handed over by the server: the socket (blocking mode off),
/// the bytes the client sent past the head (already read from the socket),
/// and the head. The server no longer serves the connection, but it still
/// counts against --max-connections (one budget of fds for the front door)
/// until `counted` goes: keep it as long as the socket is open.
struct TakenConnection {
  UniqueFd socket;
  std::string buffered;
  HttpRequest head;
  std::shared_ptr<void> counted;
};

/// A head handler's wish to serve the connection itself from now on.
/// `take` runs on an I/O thread and must not block.
struct Takeover {
  std::function<void(TakenConnection)> take;
};

/// A head handler answers (the request's body, if any, is not read, and
/// the connection then closes), or takes the connection over.
using HeadHandler = std::function<std::variant<HttpResponse, Takeover>(const HttpRequest&)>;

enum class RunOn { io_thread, worker };

/// Who may call a route, as the checks before the body see it.
enum class Access {
  token,           ///< the API token, as "Authorization: Bearer" (the default)
  token_or_basic,  ///< also as Basic auth's password: Selenium's http://user:TOKEN@host
  token_in_query,  ///< also as ?token= on a GET: a WebSocket client cannot always send headers
  launch_ticket,   ///< token_in_query, or on a GET one ?ticket= that the handler redeems
  session_secret,  ///< no token: the handler checks a secret of the session's own, in the path
  open,            ///< no credential at all: health and status, for load balancers
};

/// A refusal of the checks as a route's clients read it: corral's JSON
/// error (error_body.hpp) unless the route declares another shape.
using ErrorShape = HttpResponse (*)(int status, const std::string& code, const std::string& message);

/// What a route declares besides its handler.
struct RouteRules {
  Access access = Access::token;
  ErrorShape errors = nullptr;  ///< nullptr: corral's JSON error

  HttpResponse refusal(int status, const std::string& code, const std::string& message) const;
};

class Router {
 public:
  struct Route {
    std::string method;
    std::regex pattern;
    std::variant<PlainHandler, AsyncHandler, HeadHandler> handler;
    RunOn run_on = RunOn::io_thread;
    size_t max_body = 0;  ///< above ConnectionLimits::max_body for this route; 0: the server's
    RouteRules rules;
  };
  struct Match {
    const Route* route;
    std::vector<std::string> groups;  ///< [0] the whole path
  };

  void add(const std::string& method, const std::string& pattern, PlainHandler handler, RouteRules rules = {},
           RunOn run_on = RunOn::io_thread);
  /// `max_body`: a larger body limit for this route (0: the server's).
  void add_async(const std::string& method, const std::string& pattern, AsyncHandler handler, RouteRules rules = {},
                 size_t max_body = 0);
  void add_head(const std::string& method, const std::string& pattern, HeadHandler handler, RouteRules rules = {});
  /// The rules for a request that no route takes, when its path matches
  /// `pattern` (the first such added): a part of the API that answers its
  /// clients in a shape of its own says so for its whole prefix. Any other
  /// request no route takes needs the token and gets corral's JSON.
  void add_fallback(const std::string& pattern, RouteRules rules);

  /// The first route added for this method whose pattern matches the whole
  /// path; a HEAD falls back to the GET routes that answer (not head
  /// routes: a takeover or an upgrade is a GET's alone).
  std::optional<Match> find(const std::string& method, const std::string& path) const;
  /// The rules of `match`'s route, or for a request no route takes, of its fallback.
  RouteRules rules_for(const std::optional<Match>& match, const std::string& path) const;

 private:
  std::optional<Match> find_exact(const std::string& method, const std::string& path, bool head_routes) const;
  std::vector<Route> m_routes;
  std::vector<std::pair<std::regex, RouteRules>> m_fallbacks;
};

}  // namespace corral
