#include "corral/session/admission.hpp"

#include <algorithm>
#include <future>

namespace corral {

std::optional<size_t> sessions_always_admitted(const AdmissionLimits& limits,
                                               std::optional<uint64_t> default_memory_max, size_t uid_pool) {
  std::optional<size_t> bound;
  auto at_most = [&bound](size_t n) { bound = bound ? std::min(*bound, n) : n; };
  if (limits.max_sessions) at_most(limits.max_sessions);
  if (uid_pool) at_most(uid_pool);
  // --memory-budget needs --default-memory-max, so a budget without one
  // cannot be configured; a zero default would divide by nothing.
  if (limits.memory_budget && default_memory_max && *default_memory_max)
    at_most(static_cast<size_t>(*limits.memory_budget / *default_memory_max));
  return bound;
}
using namespace std::chrono;

Admission::Ticket& Admission::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    m_owner = std::exchange(other.m_owner, nullptr);
    m_memory = other.m_memory;
  }
  return *this;
}

void Admission::Ticket::release() {
  if (m_owner) std::exchange(m_owner, nullptr)->give_back(m_memory);
}

bool Admission::fits(uint64_t memory) const {
  bool session_free = m_limits.max_sessions == 0 || m_sessions < m_limits.max_sessions;
  bool memory_free = !m_limits.memory_budget || m_memory + memory <= *m_limits.memory_budget;
  return session_free && memory_free;
}

Error Admission::full(const char* why) const {
  std::string message = std::string(why) + ": " + std::to_string(m_sessions) + " sessions open";
  if (m_limits.max_sessions) message += " of at most " + std::to_string(m_limits.max_sessions);
  if (m_limits.memory_budget)
    message += ", " + std::to_string(m_memory >> 20) + " MiB of the " + std::to_string(*m_limits.memory_budget >> 20) +
               " MiB memory budget in use";
  return Error::make(ENOSPC, message);
}

struct Admission::Waiter {
  uint64_t memory;
  Decided decided;
};

Admission::Ticket Admission::take(uint64_t memory) {
  ++m_sessions, m_memory += memory;
  return Ticket(this, memory);
}

void Admission::grant_in_order(Outcomes& outcomes) {
  // Nobody overtakes a waiting request: only the front may go in.
  while (!m_queue.empty() && fits(m_queue.front()->memory)) {
    auto waiter = std::move(m_queue.front());
    m_queue.pop_front();
    outcomes.emplace_back(waiter, take(waiter->memory));
  }
}

void Admission::tell(Outcomes& outcomes) {
  for (auto& [waiter, outcome] : outcomes) waiter->decided(std::move(outcome));
}

// Each place given back goes to the queue's front first (give_back), so a
// request that arrives behind waiters frees room for them before itself.
void Admission::reclaim_room_for(uint64_t memory) {
  if (!m_reclaim) return;
  for (;;) {
    {
      std::lock_guard lock(m_mutex);
      if (m_queue.empty() && fits(memory)) return;
      if (m_limits.memory_budget && memory > *m_limits.memory_budget) return;
    }
    if (!m_reclaim()) return;
  }
}

Result<Admission::Ticket> Admission::try_take(uint64_t memory) {
  std::lock_guard lock(m_mutex);
  if (m_closed) return Error::make(EAGAIN, "the daemon is shutting down");
  // A place given back is for the request that asked for it, not for a
  // refill that happens to look between the give-back and the take.
  if (m_deciding || !m_queue.empty() || !fits(memory)) return full("no room for a warm browser");
  return take(memory);
}

bool Admission::resize(Ticket& ticket, uint64_t memory) {
  if (!ticket.m_owner) return false;
  Outcomes outcomes;
  {
    std::lock_guard lock(m_mutex);
    uint64_t others = m_memory - ticket.m_memory;
    if (memory > ticket.m_memory && m_limits.memory_budget && others + memory > *m_limits.memory_budget) return false;
    m_memory = others + memory;
    ticket.m_memory = memory;
    grant_in_order(outcomes);  // it may have shrunk
  }
  tell(outcomes);
  return true;
}

Admission::WaiterPtr Admission::admit_async(uint64_t memory, bool may_wait, Decided decided) {
  {
    std::lock_guard lock(m_mutex);
    ++m_deciding;
  }
  reclaim_room_for(memory);
  std::optional<Result<Ticket>> now;
  WaiterPtr waiter;
  {
    std::lock_guard lock(m_mutex);
    --m_deciding;
    if (m_limits.memory_budget && memory > *m_limits.memory_budget)
      now = Error::make(EINVAL, "memory_max is above the daemon's whole memory budget of " +
                                    std::to_string(*m_limits.memory_budget >> 20) + " MiB");
    else if (m_queue.empty() && fits(memory))
      now = take(memory);
    else if (!may_wait)
      now = full("at capacity");
    else if (m_closed)
      now = Error::make(EAGAIN, "the daemon is shutting down");
    else if (m_queue.size() >= m_limits.max_queue)
      now = full("at capacity and the wait queue is full");
    else
      m_queue.push_back(waiter = std::make_shared<Waiter>(Waiter{memory, std::move(decided)}));
  }
  if (now) decided(std::move(*now));
  return waiter;
}

void Admission::give_up(const WaiterPtr& waiter) {
  Outcomes outcomes;
  {
    std::lock_guard lock(m_mutex);
    auto it = std::find(m_queue.begin(), m_queue.end(), waiter);
    if (it == m_queue.end()) return;
    m_queue.erase(it);
    outcomes.emplace_back(waiter, full("no room within the wait"));
    grant_in_order(outcomes);  // the next in line may be first now, and fit
  }
  tell(outcomes);
}

Result<Admission::Ticket> Admission::admit(uint64_t memory, milliseconds wait) {
  // Shared: the promise must outlive a `decided` that runs while this returns.
  auto promise = std::make_shared<std::promise<Result<Ticket>>>();
  auto outcome = promise->get_future();
  auto waiter = admit_async(memory, wait.count() > 0,
                            [promise](Result<Ticket> result) { promise->set_value(std::move(result)); });
  if (waiter && outcome.wait_for(wait) != std::future_status::ready) give_up(waiter);
  return outcome.get();
}

Admission::Ticket Admission::adopt(uint64_t memory) {
  std::lock_guard lock(m_mutex);
  return take(memory);
}

void Admission::close() {
  Outcomes outcomes;
  {
    std::lock_guard lock(m_mutex);
    m_closed = true;
    for (auto& waiter : m_queue) outcomes.emplace_back(waiter, Error::make(EAGAIN, "the daemon is shutting down"));
    m_queue.clear();
  }
  tell(outcomes);
}

void Admission::give_back(uint64_t memory) {
  Outcomes outcomes;
  {
    std::lock_guard lock(m_mutex);
    --m_sessions, m_memory -= memory;
    grant_in_order(outcomes);
  }
  tell(outcomes);
}

size_t Admission::sessions() const {
  std::lock_guard lock(m_mutex);
  return m_sessions;
}

uint64_t Admission::memory() const {
  std::lock_guard lock(m_mutex);
  return m_memory;
}

size_t Admission::queued() const {
  std::lock_guard lock(m_mutex);
  return m_queue.size();
}

}  // namespace corral
