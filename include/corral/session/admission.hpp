// Admission: how many sessions, and how much memory_max in all, may be open
// at once. A request that does not fit is refused at once (429) or waits in
// a bounded first-come-first-served queue for up to its ?wait=. Waiting
// holds no thread: admit_async queues a callback, which room freed by a
// closing session, close(), or the waiter's give_up() completes.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

struct AdmissionLimits {
  size_t max_sessions = 0;               ///< 0: no limit
  std::optional<uint64_t> memory_budget; ///< sum of the sessions' memory_max
  size_t max_queue = 64;                 ///< requests that may wait at once
};

/// How many sessions at the default limits corral admits however the
/// others were asked for: the bound a router may count on (a Selenium Grid
/// node's slots). The smallest of max_sessions, the uid pool (`uid_pool`,
/// 0 for a shared user) and the memory budget's room for sessions of
/// `default_memory_max`; nullopt when nothing bounds it.
std::optional<size_t> sessions_always_admitted(const AdmissionLimits& limits,
                                               std::optional<uint64_t> default_memory_max, size_t uid_pool);

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

  /// Told the outcome of admit_async, exactly once.
  using Decided = std::function<void(Result<Ticket>)>;
  /// A request waiting in the queue (opaque); give_up() ends its wait.
  struct Waiter;
  using WaiterPtr = std::shared_ptr<Waiter>;

  explicit Admission(AdmissionLimits limits) : m_limits(limits) {}

  /// Room for a session that may use `memory` bytes. ENOSPC when there is
  /// none within `wait` (0: do not wait); EINVAL when it can never fit.
  /// Blocks the calling thread for the wait (admit_async does not).
  Result<Ticket> admit(uint64_t memory, std::chrono::milliseconds wait);

  /// The same without blocking. When the answer is known at once (room;
  /// EINVAL; ENOSPC for a full queue, or when !may_wait; EAGAIN once
  /// closed), `decided` runs before this returns, and the result is null.
  /// Otherwise the request queues (FIFO, max_queue) and the waiter is
  /// returned: `decided` runs later with a ticket on the thread that frees
  /// room, with EAGAIN on the thread that calls close(), or with ENOSPC on
  /// the one that calls give_up(waiter) (the caller's timer). Never under
  /// the admission's lock, so `decided` may call back into it.
  WaiterPtr admit_async(uint64_t memory, bool may_wait, Decided decided);

  /// The waiter's wait ran out: it leaves the queue, told ENOSPC. Nothing
  /// if it was decided already.
  void give_up(const WaiterPtr& waiter);

  /// Room now, for a warm browser (warm_pool.cpp): only when nobody waits
  /// and it fits; never waits, never asks for room back. ENOSPC otherwise.
  Result<Ticket> try_take(uint64_t memory);

  /// Change how much memory `ticket` holds (a warm browser handed to a
  /// request with its own memory_max). False, and nothing changed, when
  /// more does not fit the budget.
  bool resize(Ticket& ticket, uint64_t memory);

  /// Asked, outside the admission's lock, for a place back when a request
  /// does not fit: it releases one ticket (a warm browser's) and says true,
  /// or says false when it has none to give. Set once, before any request.
  using Reclaim = std::function<bool()>;
  void set_reclaim(Reclaim reclaim) { m_reclaim = std::move(reclaim); }

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
  /// Waiters told their outcome once the lock is dropped.
  using Outcomes = std::vector<std::pair<WaiterPtr, Result<Ticket>>>;

  bool fits(uint64_t memory) const;
  void give_back(uint64_t memory);
  Error full(const char* why) const;
  Ticket take(uint64_t memory);  ///< under m_mutex
  /// Admit queued waiters from the front while they fit. Under m_mutex.
  void grant_in_order(Outcomes& outcomes);
  static void tell(Outcomes& outcomes);

  /// Give places back (m_reclaim) until `memory` fits with nobody ahead.
  void reclaim_room_for(uint64_t memory);

  AdmissionLimits m_limits;
  Reclaim m_reclaim;
  mutable std::mutex m_mutex;
  size_t m_sessions = 0;
  uint64_t m_memory = 0;
  std::deque<WaiterPtr> m_queue;  ///< waiting requests, by arrival
  size_t m_deciding = 0;          ///< admit_async calls between their reclaim and their decision
  bool m_closed = false;
};

}  // namespace corral
