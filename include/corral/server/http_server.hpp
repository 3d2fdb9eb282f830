// HttpServer: corrald's HTTP/1.1 server, on Boost.Beast and Asio. Every
// connection is asynchronous on a few I/O threads, so a connection holds a
// thread only while bytes are parsed or a cheap handler runs; work that
// blocks goes to a bounded worker pool (post_work). Each request is held to
// ConnectionLimits in time and bytes; every error the server itself
// produces is JSON, {"error":{"code","message"}}. Once its head is read, a
// request passes the framing checks (request_framing.hpp), is routed, and
// then passes each request check, in the order added, with the rules its
// route declared (router.hpp); a check that answers ends the request
// there, before its body is read. See http_connection.cpp for one
// connection's life.
//
// This header holds no Beast or Asio type: routes and checks see only
// http_message.hpp and router.hpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "corral/server/connection_limits.hpp"
#include "corral/server/router.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

struct ServerOptions {
  ConnectionLimits limits;
  size_t io_threads = 2;
  size_t workers = 8;             ///< threads for handlers that block
  /// Beyond it a new connection gets a JSON 503 and is closed. Connections
  /// taken over (relayed WebSockets) count until they close.
  size_t max_connections = 1024;
};

/// True if it answered the request (in `response`); false passes it on.
/// `rules`: what the route that will answer declared (or the fallback's).
using RequestCheck = std::function<bool(const HttpRequest&, const RouteRules& rules, HttpResponse& response)>;

/// A timer started by HttpServer::call_after.
class CancelableTimer {
 public:
  virtual ~CancelableTimer() = default;
  /// The callback will not run, unless it has begun already.
  virtual void cancel() = 0;
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  ///< stops, if stop() was not called
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Add routes before start().
  Router& routes();
  /// Add before start(); see above for the order.
  void add_request_check(RequestCheck check);

  /// Serve connections on `listener` (bound, listening; a TCP or unix
  /// socket): from now on the server accepts. Call once.
  void start(UniqueFd listener, bool is_unix);

  /// Stop: close the listener, close idle connections, answer requests
  /// still arriving with a JSON 503, give answers under way up to `grace`
  /// to finish, then close every connection and join the threads. The
  /// worker pool finishes its tasks first (answers to waiters that were
  /// sent away go out). Blocks; call once, from a thread of one's own.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  /// Run blocking work on the worker pool.
  void post_work(std::function<void()> task);
  /// Run `callback` on an I/O thread after `delay`, unless cancelled.
  std::shared_ptr<CancelableTimer> call_after(std::chrono::milliseconds delay, std::function<void()> callback);

  /// Connections open now, taken-over ones included (not counting those being refused).
  size_t connections() const;
  const ServerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace corral
