// BoundedServer: an httplib::Server whose connections cannot hold a worker
// thread for long. httplib runs one connection per worker thread; with
// 0.11.4's own connection loop, a client that trickles bytes keeps its
// thread for as long as it likes (each read has a timeout, a request has
// none). BoundedServer serves each connection through a RequestStream that
// bounds a whole request in time and bytes (ConnectionLimits), answers a
// request that broke a limit with a JSON 408/413/414/431, and closes it.
//
// How: Server::process_and_close_socket is a private virtual (SSLServer
// overrides it too); listen_after_bind() calls it for every accepted
// socket. The override runs httplib's own protected process_request() for
// each request, on our stream instead of httplib's. It mirrors 0.11.4's
// keep-alive loop, so routes, handlers and error handling stay httplib's.
//
// Before routing it also refuses a request whose body length is in doubt or
// whose headers hold control bytes (request_headers.hpp), and it closes a
// connection after any answer that may leave unread bytes of a request
// behind.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>
#include <vector>

#include "corral/api/connection_stream.hpp"

namespace corral {

class BoundedServer : public httplib::Server {
 public:
  explicit BoundedServer(const ConnectionLimits& limits);
  const ConnectionLimits& limits() const { return m_limits; }

  /// Run `check` on each request before routing (and before its body is
  /// read), after the framing check and the checks added earlier; the first
  /// that answers Handled decides. Use this, not set_pre_routing_handler,
  /// which would replace them all.
  void add_pre_routing_check(HandlerWithResponse check);

  /// The uid on the other end of the connection this thread serves, when
  /// it is on this host (peer_identity.hpp); asked of the kernel once per
  /// connection. For pre-routing checks.
  static std::optional<uid_t> current_peer_uid();

 private:
  bool process_and_close_socket(socket_t sock) override;
  HandlerResponse check_before_routing(const httplib::Request& req, httplib::Response& res) const;
  bool stopping() const { return svr_sock_ == INVALID_SOCKET; }

  ConnectionLimits m_limits;
  std::vector<HandlerWithResponse> m_checks;
};

/// The answer to a request that broke a connection limit.
struct LimitAnswer {
  int status;        ///< 408, 413, 414, 431 or 503
  const char* code;  ///< the JSON error code
  std::string message;
};

/// The answer for a read failure; nullopt for none.
std::optional<LimitAnswer> limit_answer(ReadFailure failure, const ConnectionLimits& limits);

/// On a BoundedServer's worker thread, while it answers a request (the
/// error handler, say): the limit its request broke, if any.
std::optional<LimitAnswer> current_limit_answer();

}  // namespace corral
