// SessionUpstream: how both proxies reach a session. Every byte corral sends
// to a session's browser or chromedriver (a DevTools /json fetch, a
// WebDriver command, a relayed WebSocket) goes through here: one RelayHub
// for both proxies, the one RelayBudget for their WebSockets, and the one
// rule that guards each connection, checked once it is made and before a
// byte goes up: the port is the session's own (its listener belongs to the
// session's uid or cgroup; session_port.hpp), unless the session has a
// network of its own, where only its processes can listen. When a session starts to
// close, for any reason, its relays and kept connections end at once.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "corral/proxy/relay_budget.hpp"
#include "corral/proxy/relay_hub.hpp"
#include "corral/server/router.hpp"
#include "corral/session/manager.hpp"

namespace corral {

/// One loopback port of one session, as a proxy goes to it.
struct UpstreamPort {
  std::string session_id;
  std::string cgroup;        ///< whose processes may listen there (without a uid of its own)
  std::optional<uid_t> uid;  ///< the session's own uid, which must own the listener
  SessionNetwork network;    ///< whose loopback the port is on
  uint16_t port = 0;

  static UpstreamPort of(const SessionInfo& session, uint16_t port);
  /// The same session, another port (its chromedriver's, its browser's).
  UpstreamPort at(uint16_t other_port) const;
  /// Success when the port is this session's own (check_session_port);
  /// none needed in a network of the session's own.
  std::function<Result<void>()> ownership_check() const;
};

/// Bytes for a client whose relay could not start, made from why not.
using FailureAnswer = std::function<std::string(const std::string& why)>;

class SessionUpstream {
 public:
  /// `relays` outlives this; the closing listener goes with it.
  SessionUpstream(SessionManager& sessions, RelayBudget& relays);
  ~SessionUpstream();
  SessionUpstream(const SessionUpstream&) = delete;
  SessionUpstream& operator=(const SessionUpstream&) = delete;

  /// A place for one more relay of session `id` ("": of a session that is
  /// not open yet, counted in the total only). EAGAIN as RelayBudget says.
  Result<RelayBudget::Slot> reserve(const std::string& id) { return m_relays.reserve(id); }

  /// Relay a client's connection, taken over from the server, to `to`:
  /// `head` first (relayed_head), then what the client sent past its own
  /// head. The relay holds its server connection and `slot` while it lives,
  /// and is closed after --relay-idle-timeout of silence. `on_end` once.
  void relay(TakenConnection taken, RelayBudget::Slot slot, const UpstreamPort& to, std::string head,
             FailureAnswer failure, std::function<void()> on_end);
  /// One request with Connection: close (RelayHub::fetch).
  void fetch(const UpstreamPort& to, std::string request, std::function<void(Result<RelayHub::Fetched>)> done);
  /// One long exchange: no deadline shorter than `timeout` (RelayHub::forward).
  void forward(const UpstreamPort& to, std::string request, std::chrono::milliseconds timeout, size_t max_answer,
               std::function<void(Result<RelayHub::Fetched>)> done);
  /// forward() over a connection kept for the session (RelayHub::exchange).
  void exchange(const UpstreamPort& to, std::string request, std::chrono::milliseconds timeout, size_t max_answer,
                std::function<void(Result<RelayHub::Fetched>)> done);
  /// Answer a taken-over client and close it (RelayHub::reply_and_close).
  void reply_and_close(TakenConnection taken, std::string answer);

 private:
  SessionManager& m_sessions;
  RelayBudget& m_relays;
  RelayHub m_hub;
  int m_closing_listener = 0;
};

}  // namespace corral
