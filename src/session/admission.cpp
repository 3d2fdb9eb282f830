#include "corral/session/admission.hpp"

#include <algorithm>

namespace corral {
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

Result<Admission::Ticket> Admission::admit(uint64_t memory, milliseconds wait) {
  std::unique_lock lock(m_mutex);
  if (m_limits.memory_budget && memory > *m_limits.memory_budget)
    return Error::make(EINVAL, "memory_max is above the daemon's whole memory budget of " +
                                   std::to_string(*m_limits.memory_budget >> 20) + " MiB");
  // Nobody overtakes a waiting request: first come, first served.
  if (m_queue.empty() && fits(memory)) {
    ++m_sessions, m_memory += memory;
    return Ticket(this, memory);
  }
  if (wait.count() <= 0) return full("at capacity");
  if (m_queue.size() >= m_limits.max_queue) return full("at capacity and the wait queue is full");
  uint64_t me = m_next_waiter++;
  m_queue.push_back(me);
  bool admitted =
      m_changed.wait_for(lock, wait, [&] { return m_closed || (m_queue.front() == me && fits(memory)); });
  m_queue.erase(std::find(m_queue.begin(), m_queue.end(), me));
  m_changed.notify_all();  // the next in line may fit now, or be first now
  if (m_closed) return Error::make(EAGAIN, "the daemon is shutting down");
  if (!admitted) return full("no room within the wait");
  ++m_sessions, m_memory += memory;
  return Ticket(this, memory);
}

Admission::Ticket Admission::adopt(uint64_t memory) {
  std::lock_guard lock(m_mutex);
  ++m_sessions, m_memory += memory;
  return Ticket(this, memory);
}

void Admission::close() {
  {
    std::lock_guard lock(m_mutex);
    m_closed = true;
  }
  m_changed.notify_all();
}

void Admission::give_back(uint64_t memory) {
  {
    std::lock_guard lock(m_mutex);
    --m_sessions, m_memory -= memory;
  }
  m_changed.notify_all();
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
