// DnsForwarder's insides, shared by dns_forwarder.cpp (sessions, their UDP
// socket and TCP listener), dns_tcp_asker.cpp (one TCP connection of a
// session) and dns_resolver_query.cpp (one query put to the resolvers).
// Private to src/egress. Everything runs on the forwarder's one thread;
// only the session map and the counters are touched from others.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "corral/egress/dns_forwarder.hpp"

namespace corral {

using DnsMessage = std::vector<uint8_t>;

/// A session's counters as they are kept: added to on the forwarder's
/// thread, read by counters() on any other.
struct DnsTally {
  std::atomic<uint64_t> answered{0}, failed{0}, dropped{0}, in_flight{0}, bytes_out{0}, bytes_in{0};
  DnsCounters snapshot() const;
};

/// One served session: its sockets, what runs for it, its counts.
struct DnsSession {
  DnsSession(std::string id, boost::asio::io_context& io) : id(std::move(id)), udp(io), tcp(io), retry(io) {}

  const std::string id;
  boost::asio::ip::udp::socket udp;
  boost::asio::ip::tcp::acceptor tcp;
  boost::asio::steady_timer retry;  ///< after a failed accept (out of fds), before the next
  DnsTally tally;
  DnsBytesSeen bytes_seen;  ///< set before it is served; may be empty
  DnsMessage datagram = DnsMessage(65535);  ///< the UDP socket's receive buffer
  boost::asio::ip::udp::endpoint asker;     ///< who sent the datagram in it
  // The forwarder's thread only:
  bool stopped = false;
  size_t tcp_connections = 0;
  uint64_t next_id = 0;
  std::map<uint64_t, std::function<void()>> closers;  ///< each query and TCP connection open now

  /// Register something to close at stop(); its id, to forget it by.
  uint64_t remember(std::function<void()> close) {
    closers.emplace(next_id, std::move(close));
    return next_id++;
  }
};

/// A query a session may have forwarded: a DNS header at least, and not
/// marked as a response.
bool is_dns_query(std::span<const uint8_t> message);

struct DnsForwarder::Impl {
  Impl(std::vector<IpEndpoint> resolvers, DnsLimits limits) : resolvers(std::move(resolvers)), limits(limits) {}

  const std::vector<IpEndpoint> resolvers;
  const DnsLimits limits;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  mutable std::mutex mutex;  ///< guards `sessions`
  std::map<std::string, std::shared_ptr<DnsSession>> sessions;

  void receive_next(const std::shared_ptr<DnsSession>& session);
  void accept_next(const std::shared_ptr<DnsSession>& session);
  /// Put `query` to the resolvers for `session` (UDP or TCP, as it came);
  /// `answered` gets the answer, or nothing when none came in time.
  /// Counted and bounded here; false (and counted dropped) when over the
  /// session's limit, and `answered` is not called.
  bool forward(const std::shared_ptr<DnsSession>& session, DnsMessage query, bool over_tcp,
               std::function<void(std::optional<DnsMessage>)> answered);
  void close_session(const std::shared_ptr<DnsSession>& session);
};

/// Put `query` to each of `forwarder`'s resolvers in turn until one answers
/// it within the timeout; `done` runs once, with the answer or nothing.
/// Returns how to abandon it (then `done` runs with nothing).
std::function<void()> ask_resolvers(DnsForwarder::Impl& forwarder, DnsMessage query, bool over_tcp,
                                    std::function<void(std::optional<DnsMessage>)> done);

/// Serve one accepted TCP connection of `session`: length-prefixed queries,
/// one at a time, until it ends, goes idle or a query fails.
void serve_tcp_asker(DnsForwarder::Impl& forwarder, const std::shared_ptr<DnsSession>& session,
                     boost::asio::ip::tcp::socket asker);

}  // namespace corral
