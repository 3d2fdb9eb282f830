// The one way corral connects into a session: to its browser's DevTools
// port or its chromedriver, both listening on the session's loopback
// (127.0.0.1). Every such connection (the launcher's readiness questions,
// the relays, the proxies' exchanges) makes its socket here, so that what
// "the session's loopback" means is decided in one place.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// Where a session's network is. Today every session shares corrald's own
/// network namespace, so the session's loopback is corrald's: this holds
/// nothing. A session in a network namespace of its own will hold that
/// namespace's fd here, and session_socket() create its sockets there.
struct SessionNetwork {};

/// 127.0.0.1:`port`, where a session's browser and chromedriver listen.
sockaddr_in session_loopback(uint16_t port);

/// A new TCP socket (non-blocking, close-on-exec, not yet connected) that
/// can reach the loopback of `network`.
Result<UniqueFd> session_socket(const SessionNetwork& network);

/// A socket from session_socket(), connected to session_loopback(`port`)
/// within `timeout`, still non-blocking. ECONNREFUSED: nothing listens
/// there; ETIMEDOUT: the connection was not made in time.
Result<UniqueFd> connect_to_session(const SessionNetwork& network, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace corral
