// DnsForwarder: a session's resolver. A session's network namespace has
// only `lo`, and its resolv.conf names 127.0.0.1 (resolv_conf.hpp); corrald
// makes a UDP socket bound to, and a TCP socket listening on, the session's
// 127.0.0.1:53 inside the namespace and hands them here. The forwarder
// serves them from corrald's own (the host's) namespace: each query, as it
// came, goes to the configured resolvers (the host's nameservers, or
// --session-dns), one after the other until one answers within the
// timeout, and the answer goes back, as it came, to the asker.
//
// Exempt from the egress policy (a private resolver such as 10.255.255.53
// is the usual case), and still no way around it: it sends DNS messages to
// those resolvers and nowhere else, so a page connects only through the
// way out (egress_relay.hpp), which judges the address it connects to
// whatever a name resolved to. What it does not stop: data tunnelled in
// queries to names under a domain someone runs (docs/network.md).
//
// Each UDP query gets a fresh socket of its own, connected to the resolver
// asked (the kernel then takes datagrams from that address and port only),
// and its answer must carry the query's id. TCP: one query at a time per
// connection, each on a fresh connection to the resolver. Bounded per
// session: queries in flight (UDP and TCP together), TCP connections, and
// a timeout for each resolver asked and for an idle TCP connection.
//
// Its own io_context on one thread of its own; the header holds no Asio type.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corral/egress/ip_address.hpp"
#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

struct DnsLimits {
  std::chrono::milliseconds timeout{2500};         ///< for each resolver asked
  std::chrono::milliseconds tcp_idle_timeout{10000};  ///< a TCP connection with no query
  size_t max_in_flight_per_session = 64;           ///< past it a query is dropped
  size_t max_tcp_connections_per_session = 16;     ///< past it a connection is closed at once
};

/// One session's counts since serve(); a snapshot.
struct DnsCounters {
  uint64_t answered = 0;   ///< a resolver's answer went back to the asker
  uint64_t failed = 0;     ///< no resolver answered in time
  uint64_t dropped = 0;    ///< not a DNS query, or over max_in_flight_per_session
  uint64_t in_flight = 0;  ///< being asked now
  uint64_t bytes_out = 0;  ///< queries' bytes sent on to a resolver (each query once)
  uint64_t bytes_in = 0;   ///< answers' bytes that came back to the session
};

/// Told of a session's DNS bytes as they cross: a query forwarded
/// (`bytes_out`), an answer returned (`bytes_in`). Runs on the forwarder's
/// thread; it must not block (the egress relay's add_bytes does not).
using DnsBytesSeen = std::function<void(uint64_t bytes_in, uint64_t bytes_out)>;

class DnsForwarder {
 public:
  /// `resolvers` are the only addresses it ever sends to; at least one.
  explicit DnsForwarder(std::vector<IpEndpoint> resolvers, DnsLimits limits = {});
  ~DnsForwarder();  ///< stops every session, then joins its thread
  DnsForwarder(const DnsForwarder&) = delete;
  DnsForwarder& operator=(const DnsForwarder&) = delete;

  /// Serve `udp` (a bound UDP socket) and `tcp` (a listening TCP socket),
  /// both made in the session's namespace, for `session_id` until stop().
  /// EEXIST if the session is served already; EINVAL for a wrong socket.
  /// `bytes_seen`, if given, hears of the session's bytes as they cross
  /// (so that they count with its pages' and against its cap).
  Result<void> serve(const std::string& session_id, UniqueFd udp, UniqueFd tcp, DnsBytesSeen bytes_seen = {});
  /// Close the session's sockets and its queries in flight, and forget it.
  /// The session's last counts; nullopt if it was not served.
  std::optional<DnsCounters> stop(const std::string& session_id);
  /// The session's counts now; nullopt if it is not served.
  std::optional<DnsCounters> counters(const std::string& session_id) const;
  /// Count the session from zero again (all but its queries in flight), as
  /// EgressRelay::restart_counts. False if it is not served.
  bool restart_counts(const std::string& session_id);

  const std::vector<IpEndpoint>& resolvers() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace corral
