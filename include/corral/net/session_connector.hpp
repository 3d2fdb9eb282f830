// The one way corral connects into a session: to its browser's DevTools
// port or its chromedriver, both listening on the session's loopback
// (127.0.0.1). Every such connection (the launcher's readiness questions,
// the relays, the proxies' exchanges) makes its socket here, so that what
// "the session's loopback" means is decided in one place.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// Where a session's network is: corrald's own network namespace (empty,
/// a session started with --session-network shared), or the session's own
/// one, held by an fd of its /proc/PID/ns/net. A session of an unprivileged
/// corrald also has a user namespace of its own, owning that network
/// namespace (/proc/PID/ns/user): corrald reaches it through a helper
/// (socket_in_user_namespace.hpp). Shared by every copy (the session's
/// info, each upstream port, each relay), closed with the last.
class SessionNetwork {
 public:
  SessionNetwork() = default;
  /// The network namespace of process `pid` (/proc/PID/ns/net), or empty
  /// when that is corrald's own: a session started shared. Needs
  /// CAP_SYS_PTRACE for a process of another uid.
  static Result<SessionNetwork> of_process(pid_t pid);

  /// True when the session has a network namespace of its own.
  bool own() const { return m_namespace != nullptr; }
  /// The namespace's fd; -1 when shared.
  int fd() const { return m_namespace ? m_namespace->get() : -1; }
  /// The user namespace that owns it, when that is not corrald's own (an
  /// unprivileged corrald's session); -1 otherwise.
  int user_fd() const { return m_user_namespace ? m_user_namespace->get() : -1; }

 private:
  SessionNetwork(std::shared_ptr<const UniqueFd> ns, std::shared_ptr<const UniqueFd> user)
      : m_namespace(std::move(ns)), m_user_namespace(std::move(user)) {}
  std::shared_ptr<const UniqueFd> m_namespace;
  std::shared_ptr<const UniqueFd> m_user_namespace;
};

/// Remember corrald's own network namespace, so that a thread that made a
/// socket in a session's can return to it. Once, at start, before any
/// session_socket(); needed only where sessions get their own networks.
Result<void> remember_own_network();

/// 127.0.0.1:`port`, where a session's browser and chromedriver listen.
sockaddr_in session_loopback(uint16_t port);

/// A new TCP socket (non-blocking, close-on-exec, not yet connected) that
/// can reach the loopback of `network`. For a session's own namespace the
/// calling thread enters it (setns, CAP_SYS_ADMIN), makes the socket there
/// (a socket stays in the namespace it was made in) and returns at once; a
/// thread that cannot return aborts corrald: it must never serve anything
/// else from inside a session. A namespace in a user namespace of its own
/// is entered by a helper instead (socket_in_user_namespace.hpp).
/// `type` SOCK_DGRAM: a UDP socket instead, made the same way.
Result<UniqueFd> session_socket(const SessionNetwork& network, int type = SOCK_STREAM);

/// A TCP socket listening on session_loopback(`port`) inside `network`
/// (which must be a session's own): where the session's browser finds its
/// way out (egress/egress_relay.hpp), served from corrald's namespace.
/// EADDRINUSE when something of the session holds the port already.
Result<UniqueFd> listen_in_session(const SessionNetwork& network, uint16_t port);

/// A UDP socket bound to session_loopback(`port`) inside `network` (a
/// session's own): where the session's resolver answers
/// (egress/dns_forwarder.hpp). Port 53 needs CAP_NET_BIND_SERVICE over the
/// namespace: root has it, and so has the uid that owns the session's user
/// namespace (an unprivileged corrald's own).
Result<UniqueFd> bound_in_session(const SessionNetwork& network, uint16_t port);

/// A socket from session_socket(), connected to session_loopback(`port`)
/// within `timeout`, still non-blocking. ECONNREFUSED: nothing listens
/// there; ETIMEDOUT: the connection was not made in time.
Result<UniqueFd> connect_to_session(const SessionNetwork& network, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace corral
