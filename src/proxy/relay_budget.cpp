#include "corral/proxy/relay_budget.hpp"

#include <map>
#include <mutex>

namespace corral {

struct RelayBudget::Counts {
  std::mutex mutex;
  size_t total = 0;
  std::map<std::string, size_t> per_session;  ///< only sessions with a relay: the map stays small

  void release(const std::string& session) {
    std::lock_guard lock(mutex);
    --total;
    if (session.empty()) return;
    if (auto found = per_session.find(session); found != per_session.end() && --found->second == 0)
      per_session.erase(found);
  }
};

RelayBudget::RelayBudget(RelayLimits limits) : m_limits(limits), m_counts(std::make_shared<Counts>()) {}

Result<RelayBudget::Slot> RelayBudget::reserve(const std::string& session) {
  {
    std::lock_guard lock(m_counts->mutex);
    size_t& mine = session.empty() ? m_counts->total : m_counts->per_session[session];
    if (!session.empty() && mine >= m_limits.per_session) {
      if (mine == 0) m_counts->per_session.erase(session);
      return Error::make(EMFILE, "this session has " + std::to_string(mine) + " relayed WebSockets open, the most "
                                     "one session may (--max-relays-per-session); close one first");
    }
    if (m_counts->total >= m_limits.total) {
      if (!session.empty() && mine == 0) m_counts->per_session.erase(session);
      return Error::make(ENFILE, "corrald relays " + std::to_string(m_counts->total) +
                                     " WebSockets, the most it may at once (--max-relays); try again shortly");
    }
    ++m_counts->total;
    if (!session.empty()) ++mine;
  }
  // The deleter keeps the counts alive: a relay may outlive the budget's owner.
  return Slot(nullptr, [counts = m_counts, session](void*) { counts->release(session); });
}

size_t RelayBudget::held(const std::string& session) const {
  std::lock_guard lock(m_counts->mutex);
  auto found = m_counts->per_session.find(session);
  return found == m_counts->per_session.end() ? 0 : found->second;
}

size_t RelayBudget::held() const {
  std::lock_guard lock(m_counts->mutex);
  return m_counts->total;
}

int relay_refusal_status(const Error& refusal) { return refusal.code == EMFILE ? 429 : 503; }

}  // namespace corral
