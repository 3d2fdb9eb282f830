// SweepRetries: a uid whose sweep failed is swept again later, with
// back-off (1 s, 2 s, 4 s ... at most 5 min apart), until a sweep succeeds,
// instead of being held until corrald restarts. A session can make a sweep
// fail (a file it cannot remove yet, a process outliving it for a while);
// holding its uid for good would let 16 such sessions take the whole pool.
// Until then the uid stays quarantined and health says why.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "corral/launch/uid_pool.hpp"
#include "corral/util/error.hpp"

namespace corral {

struct BackOff {
  std::chrono::milliseconds first{1000};
  std::chrono::milliseconds longest{std::chrono::minutes(5)};
  /// How long after the `failures`-th failure in a row.
  std::chrono::milliseconds after(size_t failures) const;
};

class SweepRetries {
 public:
  /// One more sweep of `uid`; success gives it back (the caller's business).
  using Attempt = std::function<Result<void>(uid_t)>;

  explicit SweepRetries(Attempt attempt, BackOff back_off = {});
  ~SweepRetries();
  SweepRetries(const SweepRetries&) = delete;
  SweepRetries& operator=(const SweepRetries&) = delete;

  /// A sweep of `uid` failed (`why`): try again after the back-off.
  void failed(uid_t uid, const std::string& why);
  /// Failed sweeps waiting for their next attempt.
  std::map<uid_t, SweepRetry> status() const;

 private:
  void run(std::stop_token stop);
  /// One more failure of `uid`'s sweep, and when to try again; under m_mutex.
  void note_failure(uid_t uid, const std::string& why);

  Attempt m_attempt;
  BackOff m_back_off;
  mutable std::mutex m_mutex;
  std::condition_variable_any m_changed;
  std::map<uid_t, SweepRetry> m_waiting;
  uint64_t m_generation = 0;  ///< counts failed(): a new, perhaps earlier, attempt
  std::jthread m_thread;  // last: it stops and joins before the rest goes
};

}  // namespace corral
