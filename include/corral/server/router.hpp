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

class Router {
 public:
  struct Route {
    std::string method;
    std::regex pattern;
    std::variant<PlainHandler, AsyncHandler, HeadHandler> handler;
    RunOn run_on = RunOn::io_thread;
    size_t max_body = 0;  ///< above ConnectionLimits::max_body for this route; 0: the server's
  };
  struct Match {
    const Route* route;
    std::vector<std::string> groups;  ///< [0] the whole path
  };

  void add(const std::string& method, const std::string& pattern, PlainHandler handler,
           RunOn run_on = RunOn::io_thread);
  /// `max_body`: a larger body limit for this route (0: the server's).
  void add_async(const std::string& method, const std::string& pattern, AsyncHandler handler, size_t max_body = 0);
  void add_head(const std::string& method, const std::string& pattern, HeadHandler handler);

  /// The first route added for this method whose pattern matches the whole
  /// path; a HEAD falls back to the GET routes.
  std::optional<Match> find(const std::string& method, const std::string& path) const;

 private:
  std::optional<Match> find_exact(const std::string& method, const std::string& path) const;
  std::vector<Route> m_routes;
};

}  // namespace corral
