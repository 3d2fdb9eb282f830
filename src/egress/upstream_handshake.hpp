// The relay's side of a session's upstream proxy, on a connection already
// made to it: the UpstreamDialogue spoken over the socket, on the socket's
// strand. The caller's deadline bounds it (cancelling the socket ends it
// as failed). Private to src/egress.
#pragma once

#include <functional>
#include <string>

#include "corral/egress/upstream_dialogue.hpp"
#include "egress_relay_impl.hpp"

namespace corral {

struct UpstreamOutcome {
  UpstreamDialogue::State state = UpstreamDialogue::State::failed;  ///< connected, credential_refused or failed
  socks5::Reply reply = socks5::Reply::general_failure;             ///< for the page, when not connected
  std::string why;    ///< for the log, when not connected; never the credential
  std::string early;  ///< the destination's first bytes, read with the proxy's answer: the page's
};

/// Ask the session's proxy, over `socket` (connected to it), for
/// host:port. A refusal is counted in the session's tally and logged (the
/// proxy redacted) before `done` runs, once, on the socket's executor.
/// `session` and `socket` must outlive it.
void ask_upstream_proxy(boost::asio::ip::tcp::socket& socket, ServedSession& session, std::string host, uint16_t port,
                        std::function<void(UpstreamOutcome)> done);

}  // namespace corral
