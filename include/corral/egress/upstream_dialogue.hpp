// What the egress relay says to a session's upstream proxy to reach one
// destination, and how it reads the answers: HTTP CONNECT with
// Proxy-Authorization: Basic, or SOCKS5 with username/password
// authentication (RFC 1929). Pure: bytes in, bytes out, so that every
// answer a proxy can give is unit-tested without one.
//
// The destination goes to the proxy as the page named it: a name is the
// proxy's to resolve (corrald never resolves it locally, nor judges the
// addresses the proxy picks); a literal address was judged by corrald's
// policy before it got here.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "corral/egress/socks5.hpp"
#include "corral/egress/upstream_proxy.hpp"

namespace corral {

class UpstreamDialogue {
 public:
  enum class State {
    need_more,  ///< read more, then call received() again with everything unused
    send,       ///< write `to_send`, then read on
    connected,  ///< the proxy carries the connection from here on
    credential_refused,  ///< 407 (or 401), SOCKS5 authentication failed or demanded: the credential is wrong or missing
    failed,     ///< the proxy could not or would not connect, or did not speak its protocol
  };
  struct Step {
    State state = State::need_more;
    size_t consumed = 0;  ///< bytes of the answer used; the rest (once connected) is the destination's
    std::string to_send;
    socks5::Reply reply = socks5::Reply::general_failure;  ///< for the page, when not connected
    std::string why;  ///< for the log, when not connected; never holds the credential
  };

  /// `host` is a name or a literal address (IPv6 without brackets).
  UpstreamDialogue(const UpstreamProxy& proxy, std::string host, uint16_t port);

  /// What to send once connected to the proxy.
  std::string opening() const;
  /// The proxy's bytes not yet consumed, from the first one not consumed.
  Step received(std::span<const uint8_t> bytes);

 private:
  enum class Phase { http_answer, socks_method, socks_authentication, socks_reply };
  Step http_answer(std::span<const uint8_t> bytes) const;
  Step socks_method(std::span<const uint8_t> bytes);
  Step socks_authentication(std::span<const uint8_t> bytes);
  Step socks_reply(std::span<const uint8_t> bytes) const;
  std::string socks_request() const;

  const UpstreamProxy& m_proxy;
  std::string m_host;
  uint16_t m_port;
  Phase m_phase;
};

/// The longest HTTP answer head read from a proxy before it counts as failed.
inline constexpr size_t kLongestProxyAnswerHead = 16 * 1024;

}  // namespace corral
