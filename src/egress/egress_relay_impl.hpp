// EgressRelay's insides, shared by egress_relay.cpp (sessions, listeners)
// and egress_connection.cpp (one page connection). Private to src/egress.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "corral/egress/egress_relay.hpp"

namespace corral {

using EgressStrand = boost::asio::strand<boost::asio::io_context::executor_type>;

/// A session's counters as they are kept: atomics, added to from any of
/// the relay's threads, read by counters() on any other.
struct EgressTally {
  std::atomic<uint64_t> connections{0}, unreachable{0}, unsupported{0}, bad_handshake{0}, over_limit{0};
  std::atomic<uint64_t> proxy_refused{0}, proxy_failed{0};
  std::array<std::atomic<uint64_t>, kEgressReasons> refused{};
  std::atomic<uint64_t> bytes_out{0}, bytes_in{0}, open{0};

  void count_refusal(EgressReason reason) { refused[static_cast<size_t>(reason)].fetch_add(1); }
  EgressCounters snapshot() const;
  /// Everything back to zero but `open` (connections that still live).
  void restart() {
    for (auto* count : {&connections, &unreachable, &unsupported, &bad_handshake, &over_limit, &proxy_refused,
                        &proxy_failed, &bytes_out, &bytes_in})
      count->store(0);
    for (auto& count : refused) count.store(0);
  }
};

class EgressConnection;

/// One served session: its listener, its live connections, its counts.
struct ServedSession {
  ServedSession(std::string id, EgressSession settings, EgressStrand strand)
      : id(std::move(id)), settings(std::move(settings)), strand(strand), acceptor(strand), retry(strand) {
    narrow(this->settings.narrowing);
  }

  const std::string id;
  const EgressSession settings;  ///< as served; its narrowing's names as first resolved (see lists())

  /// The session's own lists in force, read by every connection as it
  /// judges an address; replaced whole when its names are resolved again
  /// (EgressRelay::renarrow), so a connection never sees half of a change.
  struct Narrowing {
    EgressLists destinations;  ///< the session's lists, names resolved
    /// What they say about its proxy's addresses: its deny list holds, its
    /// allow list does not (that names destinations; a session allowing
    /// only example.com through a proxy must not lose the proxy itself).
    /// The operator's policy judges the proxy as any address.
    EgressLists proxy;
  };
  std::shared_ptr<const Narrowing> lists() const { return m_narrowing.load(); }
  void narrow(EgressLists lists) {
    EgressLists proxy{{}, lists.deny};
    m_narrowing.store(std::make_shared<const Narrowing>(Narrowing{std::move(lists), std::move(proxy)}));
  }

  EgressStrand strand;  ///< the listener's
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer retry;  ///< after a failed accept (out of fds), before the next
  EgressTally tally;

  std::mutex mutex;  ///< guards what follows
  bool stopped = false;
  uint64_t next_connection = 0;
  std::map<uint64_t, std::weak_ptr<EgressConnection>> connections;

  /// A closed connection leaves (from its own strand).
  void forget(uint64_t connection);

  // The byte cap (egress_cap.cpp): 0 is none.
  std::atomic<uint64_t> max_bytes{0};
  std::atomic<bool> over_cap{false};  ///< past it: nothing more is relayed
  std::function<void()> on_over_cap;  ///< guarded by `mutex`
  /// How many bytes the next relay turn may move: `turn`, or less near the cap.
  size_t turn_within_cap(size_t turn) const;
  /// Add `bytes` to `counter`; true for the one call that takes the session
  /// past its cap.
  bool count(std::atomic<uint64_t>& counter, uint64_t bytes);

 private:
  std::atomic<std::shared_ptr<const Narrowing>> m_narrowing;
};

struct EgressRelay::Impl {
  Impl(EgressPolicy policy, EgressLimits limits) : policy(std::move(policy)), limits(limits) {}

  EgressPolicy policy;  ///< its lists may be replaced (EgressPolicy::replace_lists), never the object
  const EgressLimits limits;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::vector<std::thread> threads;
  mutable std::mutex mutex;  ///< guards `sessions`
  std::map<std::string, std::shared_ptr<ServedSession>> sessions;

  /// The session served under `id`; null if none.
  std::shared_ptr<ServedSession> served(const std::string& id) const;
  void accept_next(const std::shared_ptr<ServedSession>& session);
  void accepted(const std::shared_ptr<ServedSession>& session, EgressStrand strand, boost::asio::ip::tcp::socket page);
  /// Close the listener and every connection; `done` runs (on whichever
  /// thread closes last) once all are closed.
  void close_session(const std::shared_ptr<ServedSession>& session, std::function<void()> done) const;
  /// The session went past its cap: close it all now, and say so.
  void stop_over_cap(const std::shared_ptr<ServedSession>& session) const;
};

/// One accepted page connection, to be registered in `session` under `id`
/// (it forgets itself there when closed) before it starts.
std::shared_ptr<EgressConnection> make_egress_connection(const EgressRelay::Impl& relay,
                                                         std::shared_ptr<ServedSession> session, uint64_t id,
                                                         EgressStrand strand, boost::asio::ip::tcp::socket page);
/// SOCKS5 handshake, policy, connect, relay: all on the connection's strand.
void start_egress_connection(const std::shared_ptr<EgressConnection>& connection);
/// Close a connection from any thread (on its strand, soon); `done` runs
/// once it is closed (or was already).
void close_egress_connection(const std::shared_ptr<EgressConnection>& connection, std::function<void()> done);

}  // namespace corral
