// Admission: how many sessions, and how much memory_max in all, may be open
// at once. A request that does not fit is refused at once (429) or waits in
// a bounded first-come-first-served queue for up to its ?wait=.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "corral/util/error.hpp"

namespace corral {

struct AdmissionLimits {
  size_t max_sessions = 0;               ///< 0: no limit
  std::optional<uint64_t> memory_budget; ///< sum of the sessions' memory_max
  size_t max_queue = 64;                 ///< requests that may wait at once
};

class Admission {
 public:
  /// Room held for one session until release() (or destruction).
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { release(); }
    void release();

   private:
    friend class Admission;
    Ticket(Admission* owner, uint64_t memory) : m_owner(owner), m_memory(memory) {}
    Admission* m_owner = nullptr;
    uint64_t m_memory = 0;
  };

  explicit Admission(AdmissionLimits limits) : m_limits(limits) {}

  /// Room for a session that may use `memory` bytes. ENOSPC when there is
  /// none within `wait` (0: do not wait); EINVAL when it can never fit.
  Result<Ticket> admit(uint64_t memory, std::chrono::milliseconds wait);

  /// Room for a session that is already running (adopted after a restart):
  /// always granted, even past the limits, which then hold new sessions back.
  Ticket adopt(uint64_t memory);

  /// Shutting down: every waiting request gives up at once (EAGAIN), so
  /// none holds a worker thread, and the daemon's stop, for its whole wait.
  void close();

  const AdmissionLimits& limits() const { return m_limits; }
  size_t sessions() const;
  uint64_t memory() const;
  size_t queued() const;

 private:
  bool fits(uint64_t memory) const;
  void give_back(uint64_t memory);
  Error full(const char* why) const;

  AdmissionLimits m_limits;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  size_t m_sessions = 0;
  uint64_t m_memory = 0;
  std::deque<uint64_t> m_queue;  ///< waiting requests, by arrival
  uint64_t m_next_waiter = 0;
  bool m_closed = false;
};

}  // namespace corral
