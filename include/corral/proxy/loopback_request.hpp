// The requests corral itself sends to a session's loopback port: Chrome's
// /json endpoints, chromedriver's commands, and the head of a relayed
// WebSocket. Each is addressed to 127.0.0.1:<port> (Chrome refuses a Host
// that is not its own) and carries only the headers given: never the
// client's Host, Origin, or a credential meant for corral.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "corral/server/http_message.hpp"

namespace corral {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// "METHOD target HTTP/1.1", Host 127.0.0.1:port, `headers` in order, and
/// `body` with its Content-Length (sent for an empty body too on POST and
/// PUT, which carry one by nature).
std::string loopback_request(const std::string& method, const std::string& target, uint16_t port,
                             const HeaderList& headers, const std::string& body = "");

/// The client's headers a browser may see on a relayed WebSocket: all but
/// Host and Origin (Chrome refuses foreign ones), credentials meant for
/// corral (Authorization, Cookie, proxy ones), forwarding headers, and the
/// body's framing.
HeaderList headers_for_browser(const HttpHeaders& client_headers);

/// The head a browser gets for a relayed WebSocket: the client's upgrade
/// request for `path`, with headers_for_browser.
std::string relayed_head(const HttpRequest& req, const std::string& path, uint16_t port);

}  // namespace corral
