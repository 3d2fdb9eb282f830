// The warm pool's rules and counts: which kinds are kept warm (--warm),
// which requests a warm browser may serve (a hit), and what the pool did.
// The pool itself (starting, freezing, claiming, giving way) is part of the
// session manager: src/session/warm_pool.cpp. Operators read it in
// docs/operators.md, "Warm browsers".
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "corral/launch/chrome_flags.hpp"
#include "corral/session/prometheus_text.hpp"
#include "corral/session/session.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// How many warm browsers to keep, per kind; a kind not named: none.
using WarmTargets = std::map<BrowserKind, size_t>;

/// "chrome=4" or "chrome=4,chromedriver=2" (--warm). EINVAL for anything else.
Result<WarmTargets> parse_warm_targets(const std::string& text);

/// Why a warm browser cannot serve `request` (a miss), or nothing when it
/// can (a hit). A warm browser was started with nothing but the daemon's
/// defaults: a request that needs anything at start (browser args, an
/// upstream proxy, egress lists of its own) needs a cold start. Limits,
/// labels, ttl, idle timeout and network_max_bytes are set at hand-out.
/// A warm chromedriver serves only a WebDriver new session whose
/// capabilities attaching to its browser honours (warm_attach_miss empty).
std::optional<std::string> warm_miss_reason(const SessionRequest& request);

/// What the pool of one kind holds and did, for /v1/usage and corralctl top.
struct WarmStatus {
  BrowserKind kind = BrowserKind::chrome;
  size_t target = 0;
  size_t ready = 0;          ///< frozen, waiting to be claimed
  uint64_t hits = 0;         ///< opens served by a warm browser (a chromedriver: once its attach took)
  uint64_t misses = 0;       ///< opens of this kind that started cold
  uint64_t discarded = 0;    ///< warm browsers killed unused: gave way, exited, failed a check
  std::optional<double> last_refill_ms;  ///< the newest member's start, until frozen
  bool frozen = true;  ///< members wait frozen; false where the backend cannot freeze (systemd, hybrid host)
};

/// The pool's counters, per kind; thread-safe.
class WarmCounters {
 public:
  void hit(BrowserKind kind);
  void miss(BrowserKind kind);
  void discarded(BrowserKind kind);
  void refilled(BrowserKind kind, double seconds);
  /// Counts of `kind`, with the target and ready members the caller knows.
  WarmStatus status(BrowserKind kind, size_t target, size_t ready) const;
  /// corral_warm_ready, corral_warm_hits_total, corral_warm_misses_total,
  /// corral_warm_discarded_total and corral_warm_refill_seconds, per kind.
  std::string render(const std::map<BrowserKind, size_t>& ready) const;

 private:
  struct Kind {
    uint64_t hits = 0, misses = 0, discarded = 0;
    std::optional<double> last_refill_ms;
    prometheus::Histogram refill_seconds{{0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  };
  Kind& of(BrowserKind kind) { return m_kinds.try_emplace(kind).first->second; }

  mutable std::mutex m_mutex;
  std::map<BrowserKind, Kind> m_kinds;
};

}  // namespace corral
