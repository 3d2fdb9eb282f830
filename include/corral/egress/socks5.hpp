// SOCKS5 (RFC 1928) as the egress relay speaks it: the client's greeting
// and request, parsed from the bytes read so far, and the relay's answers.
// Only "no authentication" (the relay listens inside the session's own
// network namespace, where nothing but the session reaches it) and only
// CONNECT; the relay answers anything else with a refusal.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "corral/egress/ip_address.hpp"

namespace corral::socks5 {

inline constexpr uint8_t kVersion = 5;
inline constexpr uint8_t kNoAuthentication = 0x00;
inline constexpr uint8_t kNoAcceptableMethod = 0xff;
inline constexpr uint8_t kConnect = 0x01;

enum class Reply : uint8_t {
  succeeded = 0x00,
  general_failure = 0x01,
  not_allowed = 0x02,  ///< "connection not allowed by ruleset": the egress policy refused
  network_unreachable = 0x03,
  host_unreachable = 0x04,
  connection_refused = 0x05,
  ttl_expired = 0x06,
  command_not_supported = 0x07,
  address_type_not_supported = 0x08,
};

/// Where parsing stands: more bytes needed, a whole message, or bytes no
/// SOCKS5 client sends (then the relay closes without a word).
enum class Parse { incomplete, complete, malformed, unknown_address_type };

struct Greeting {
  Parse state = Parse::incomplete;
  size_t length = 0;  ///< bytes the greeting took, when complete
  bool offers_no_authentication = false;
};

struct Request {
  Parse state = Parse::incomplete;
  size_t length = 0;  ///< bytes the request took, when complete
  uint8_t command = 0;
  std::optional<IpAddress> address;  ///< IPv4 or IPv6 given as such
  std::string name;                  ///< a domain name given instead (not yet resolved)
  uint16_t port = 0;
};

/// VER NMETHODS METHODS... (2 to 257 bytes).
Greeting parse_greeting(std::span<const uint8_t> bytes);
/// VER CMD RSV ATYP DST.ADDR DST.PORT (10, 22, or 7 + the name's length).
Request parse_request(std::span<const uint8_t> bytes);

/// The method the relay picks: no authentication, or none acceptable.
std::array<uint8_t, 2> method_choice(bool no_authentication_offered);
/// A reply to a request. BND.ADDR and BND.PORT are always 0.0.0.0:0: the
/// page has no need of the host's outbound address and port, so it is
/// never told them.
std::array<uint8_t, 10> reply(Reply code);

}  // namespace corral::socks5
