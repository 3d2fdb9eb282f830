// The head a session's browser gets for a WebSocket a client opened
// through corral: the client's upgrade request, addressed to the browser's
// loopback port (net/loopback_request.hpp), with only the headers a
// browser may see.
#pragma once

#include <cstdint>
#include <string>

#include "corral/net/loopback_request.hpp"
#include "corral/server/http_message.hpp"

namespace corral {

/// The client's headers a browser may see on a relayed WebSocket: all but
/// Host and Origin (Chrome refuses foreign ones), credentials meant for
/// corral (Authorization, Cookie, proxy ones), forwarding headers, and the
/// body's framing.
HeaderList headers_for_browser(const HttpHeaders& client_headers);

/// The client's upgrade request for `path` on 127.0.0.1:port, with
/// headers_for_browser.
std::string relayed_head(const HttpRequest& req, const std::string& path, uint16_t port);

}  // namespace corral
