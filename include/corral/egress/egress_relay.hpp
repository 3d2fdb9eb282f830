// EgressRelay: a session's way out. Each session runs in a network
// namespace of its own with only `lo`; corrald makes a listening socket on
// 127.0.0.1:<port> inside it and hands it here, and the session's Chrome
// uses it as its SOCKS5 proxy (--proxy-server=socks5://127.0.0.1:<port>,
// --proxy-bypass-list=<-loopback>). The relay accepts on that socket from
// corrald's own (the host's) network namespace and connects on the page's
// behalf, under the EgressPolicy, which judges every address actually
// connected to: a name is resolved here, and each of its addresses judged
// before it is tried.
//
// SOCKS5 with no authentication and CONNECT only (socks5.hpp): UDP
// ASSOCIATE is answered "command not supported", so WebRTC and QUIC find
// no UDP way out. A refusal is SOCKS reply 0x02, then the connection
// closes: a network error to the page, and a count in the session's
// counters. Bounded per connection (a handshake deadline, an idle timeout,
// two fixed buffers) and per session (at most EgressLimits::
// max_connections_per_session open at once).
//
// Outbound sockets belong to the session's uid (socket_as_uid.hpp), so a
// service on the host never sees corrald (root) connecting for a page.
//
// Its own io_context, on a thread or two of its own; the header holds no
// Asio type.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corral/egress/egress_policy.hpp"
#include "corral/egress/upstream_proxy.hpp"
#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

struct EgressLimits {
  std::chrono::milliseconds handshake_timeout{5000};  ///< greeting and request, from accept
  std::chrono::milliseconds resolve_timeout{5000};    ///< a name's addresses
  std::chrono::milliseconds connect_timeout{10000};   ///< each address tried
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};  ///< no byte either way; 0: never
  size_t max_connections_per_session = 256;  ///< open at once; past it a new one is closed at once
  size_t max_addresses_tried = 4;            ///< of a name's allowed addresses, in the resolver's order
};

/// What the relay needs to know of one session.
struct EgressSession {
  std::optional<uid_t> uid;  ///< outbound sockets are this uid's; none: corrald's own (the user manager)
  /// The session's upstream proxy (upstream_proxy.hpp): every connection
  /// goes to it, and only to it; null: straight to the destination.
  std::shared_ptr<const UpstreamProxy> proxy;

  /// With a proxy, nothing but the relay's connections to it may leave the
  /// session: whatever else gives a session a way out (a DNS forwarder, say)
  /// must stay off for it (docs/network.md, "A proxy per session").
  bool uses_upstream_proxy() const { return proxy != nullptr; }
  EgressLists narrowing;     ///< the session's own lists, names resolved (EgressPolicy::decide)
};

/// One session's counts since serve(); a snapshot.
struct EgressCounters {
  uint64_t connections = 0;  ///< relayed: connected to an allowed address
  std::array<uint64_t, kEgressReasons> refused{};  ///< by EgressReason: the policy said no (0x02)
  uint64_t unreachable = 0;    ///< allowed, but the name did not resolve or no address answered
  uint64_t unsupported = 0;    ///< BIND, UDP ASSOCIATE or an unknown address type
  uint64_t bad_handshake = 0;  ///< not SOCKS5, no acceptable method, or too slow
  uint64_t over_limit = 0;     ///< closed at once: max_connections_per_session were open
  uint64_t proxy_refused = 0;  ///< the upstream proxy refused the credential (407, SOCKS5 authentication)
  uint64_t proxy_failed = 0;   ///< the upstream proxy could not or would not connect, or did not answer
  uint64_t bytes_out = 0;      ///< from the page to the world
  uint64_t bytes_in = 0;       ///< from the world to the page
  uint64_t open = 0;           ///< connections open now (handshaking or relaying)

  uint64_t refused_for(EgressReason reason) const { return refused[static_cast<size_t>(reason)]; }
};

/// Relays with splice(2): the process must ignore SIGPIPE (see SplicePipe).
class EgressRelay {
 public:
  explicit EgressRelay(EgressPolicy policy, EgressLimits limits = {}, size_t threads = 2);
  ~EgressRelay();  ///< stops every session, then joins the threads
  EgressRelay(const EgressRelay&) = delete;
  EgressRelay& operator=(const EgressRelay&) = delete;

  /// Accept on `listening_fd` (a listening TCP socket, made in the
  /// session's namespace) for `session_id` until stop(). EEXIST if the
  /// session is served already; EINVAL if the fd is not listening.
  Result<void> serve(const std::string& session_id, UniqueFd listening_fd, EgressSession settings);
  /// Close the session's listener and every connection of it, and forget
  /// it; waits (a few seconds at most) until they are closed, unless
  /// called on one of the relay's own threads. The session's last counts;
  /// nullopt if it was not served.
  std::optional<EgressCounters> stop(const std::string& session_id);
  /// The session's counts now; nullopt if it is not served.
  std::optional<EgressCounters> counters(const std::string& session_id) const;
  /// Count the session from zero again (all but its open connections): a
  /// warm browser handed to a client (warm_pool.cpp) owes nothing it moved
  /// while it waited. False if it is not served.
  bool restart_counts(const std::string& session_id);
  /// Each served session whose own lists name a host, with those lists as
  /// in force now (names resolved when last asked): for corrald's refresher
  /// of names (egress_names_refresh.hpp).
  std::vector<std::pair<std::string, EgressLists>> named_narrowings() const;
  /// Put `lists` in force for the session's connections from now on (the
  /// same entries as served, their names' addresses found again). False if
  /// it is not served.
  bool renarrow(const std::string& session_id, EgressLists lists);
  /// The operator's policy every session is judged by first.
  const EgressPolicy& policy() const;
  /// For corrald's refresher of the operator's names (egress_names_refresh.hpp).
  EgressPolicy& policy();
  /// Cap the session's bytes (in and out together, counted since serve()).
  /// Once a relay turn takes them past `max_bytes`, every connection of the
  /// session closes at once, no new one is relayed, and `over_cap` runs
  /// once, on one of the relay's threads (it must not call stop() there and
  /// wait; handing the id on is enough). Turns shrink near the cap, so the
  /// overshoot stays below kCapOvershoot (egress_cap.cpp). ENOENT if the
  /// session is not served.
  Result<void> cap(const std::string& session_id, uint64_t max_bytes, std::function<void()> over_cap);
  /// Bytes a session's pages moved another way that corrald serves for
  /// them (its DNS forwarder, say): counted with the relay's, against the
  /// same cap, which ends the session here as it would in a relay turn
  /// (`over_cap` then runs on the caller's thread). False if the session
  /// is not served.
  bool add_bytes(const std::string& session_id, uint64_t bytes_in, uint64_t bytes_out);

  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace corral
