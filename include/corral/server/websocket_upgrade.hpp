// Whether a request asks to become a WebSocket, by Beast's rules (RFC 6455,
// 4.1): an HTTP/1.1 GET whose Connection names the token "upgrade" and
// whose Upgrade names the token "websocket", without regard to case. Any
// other upgrade (h2c) is no WebSocket: such a request is answered as plain
// HTTP/1.1 (RFC 9110, 7.8). One test for the server and every route that
// takes a WebSocket, so that they never disagree on a request.
#pragma once

#include "corral/server/http_message.hpp"

namespace corral {

/// True for a WebSocket upgrade request. Several Connection (or Upgrade)
/// fields count as one list, as RFC 9110 (5.3) has it.
bool is_websocket_upgrade(const HttpRequest& request);

}  // namespace corral
