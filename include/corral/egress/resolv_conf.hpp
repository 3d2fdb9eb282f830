// The host's resolv.conf, as a session's DNS needs it: which resolvers the
// DNS forwarder (dns_forwarder.hpp) asks, and what a session's own
// resolv.conf keeps of the host's (its search and options lines, never its
// nameservers: inside the session the only resolver is the forwarder on
// 127.0.0.1). Plain text in, plain values out; no Asio, no files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "corral/egress/ip_address.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// Where resolvers listen unless told otherwise.
constexpr uint16_t kDnsPort = 53;

struct HostResolvConf {
  /// Each `nameserver` line's address, port 53, in the file's order (a
  /// line whose address does not parse, e.g. one with a %zone, is left out).
  std::vector<IpEndpoint> nameservers;
  /// The `search`, `domain` and `options` lines, as written.
  std::vector<std::string> kept_lines;
};

/// Read resolv.conf text as glibc does: a keyword at the start of a line,
/// '#' and ';' start comments.
HostResolvConf parse_resolv_conf(std::string_view text);

/// A session's resolv.conf: "nameserver 127.0.0.1" and the host's kept lines.
std::string session_resolv_conf(const HostResolvConf& host);

/// One --session-dns value: "10.255.255.53", "10.255.255.53:5353",
/// "2001:db8::53" or "[2001:db8::53]:5353". EINVAL, saying what to write,
/// for anything else (a name: the forwarder must not need DNS to find DNS).
Result<IpEndpoint> parse_dns_server(std::string_view text);

std::string to_string(const IpEndpoint& endpoint);

}  // namespace corral
