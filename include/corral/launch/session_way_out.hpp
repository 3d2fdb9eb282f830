// A session's way out of its own network namespace: a listener on the
// session's 127.0.0.1:kWayOutPort, made inside the namespace and served by
// corrald's egress relay (egress/egress_relay.hpp) from the host's side.
// The session's Chrome is started pointing its proxy there
// (way_out_flags()), so every connection a page makes goes through the
// relay and its policy; nothing else in the namespace leads out.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "corral/egress/egress_relay.hpp"
#include "corral/net/session_connector.hpp"

namespace corral {

/// Where the way out listens inside every session's namespace: a fresh
/// namespace has every port free, so one number does for all.
constexpr uint16_t kWayOutPort = 1080;

/// Chrome's flags for the way out. `<-loopback>` takes away Chrome's
/// implicit direct path to localhost: a page's request to 127.0.0.1 goes to
/// the relay too (and is refused there), never to the session's own
/// chromedriver or DevTools port.
std::vector<std::string> way_out_flags();

/// Served while it lives; closed (and its connections with it) when it is
/// destroyed or close()d.
class SessionWayOut {
 public:
  SessionWayOut() = default;
  /// Listen in `network` (a session's own) and hand the listener to `relay`
  /// for session `id`, judged and served as `settings` say (its outbound
  /// sockets' uid, its own egress lists).
  static Result<SessionWayOut> open(EgressRelay& relay, const std::string& id, const SessionNetwork& network,
                                    EgressSession settings);
  SessionWayOut(SessionWayOut&& other) noexcept { *this = std::move(other); }
  SessionWayOut& operator=(SessionWayOut&& other) noexcept;
  ~SessionWayOut() { close(); }

  bool open() const { return m_relay != nullptr; }
  /// The counts so far (the last ones once closed); nullopt when there
  /// never was a way out.
  std::optional<EgressCounters> counters() const;
  /// Cap its bytes (EgressRelay::cap). ENOENT when it is not open.
  Result<void> cap(uint64_t max_bytes, std::function<void()> over_cap);
  /// End it now. Safe to call again.
  void close();

 private:
  EgressRelay* m_relay = nullptr;
  std::string m_id;
  std::optional<EgressCounters> m_last;  ///< from the relay's stop()
};

}  // namespace corral
