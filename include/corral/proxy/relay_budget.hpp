// RelayBudget: how many WebSocket relays (DevTools, WebDriver's se:cdp and
// se:bidi) may be open, per session and in total, and how long one may sit
// idle. A relay costs two fds (the client's, the browser's) and a little
// memory for as long as it lives, and a client can open them as fast as it
// likes: without a bound, one session's relays took all of corrald's fds,
// and POST /v1/sessions failed with EMFILE. The DevTools and WebDriver
// proxies share one budget, so the bounds hold across both.
//
// Pure logic and thread-safe; a slot is released when its last copy goes,
// from any thread, even after the budget itself is gone.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// What relays may cost. docs/operators.md lists these values.
struct RelayLimits {
  size_t per_session = 64;  ///< --max-relays-per-session
  size_t total = 512;       ///< --max-relays (default: half of --max-connections)
  /// --relay-idle-timeout: a relay through which neither side sent a byte
  /// for this long is closed; 0 keeps idle relays for the session's life.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
};

class RelayBudget {
 public:
  /// One relay's place in the budget: held while any copy lives.
  using Slot = std::shared_ptr<void>;

  explicit RelayBudget(RelayLimits limits);

  /// A place for one more relay of `session`; "" for a relay whose session
  /// is not open yet (connect-to-launch), which counts in the total only.
  /// EMFILE past the session's bound, ENFILE past the total.
  Result<Slot> reserve(const std::string& session);
  /// Relays holding a place now: of one session, or all.
  size_t held(const std::string& session) const;
  size_t held() const;
  const RelayLimits& limits() const { return m_limits; }

 private:
  struct Counts;
  RelayLimits m_limits;
  std::shared_ptr<Counts> m_counts;
};

/// The HTTP status of a refused reservation: 429 past the session's own
/// bound (the client's doing: close one of its relays), 503 past the total.
int relay_refusal_status(const Error& refusal);
/// The error code corral answers a refused relay with, in its JSON.
inline constexpr const char* kTooManyRelays = "too_many_relays";

}  // namespace corral
