// The requests corral itself sends to a session's loopback port: the
// launcher's readiness GET, Chrome's /json endpoints, chromedriver's
// commands, and the head of a relayed WebSocket (proxy/relayed_head.hpp).
// Each is addressed to 127.0.0.1:<port> (Chrome refuses a Host that is not
// its own) and carries only the headers given: never the client's Host,
// Origin, or a credential meant for corral.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace corral {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// "METHOD target HTTP/1.1", Host 127.0.0.1:port, `headers` in order, and
/// `body` with its Content-Length (sent for an empty body too on POST and
/// PUT, which carry one by nature).
std::string loopback_request(const std::string& method, const std::string& target, uint16_t port,
                             const HeaderList& headers, const std::string& body = "");

}  // namespace corral
