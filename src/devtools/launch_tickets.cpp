#include "corral/devtools/launch_tickets.hpp"

#include <algorithm>

#include "corral/server/auth.hpp"
#include "corral/session/manager.hpp"

namespace corral {

std::string LaunchTickets::issue() {
  auto ticket = new_access_secret();
  std::lock_guard lock(m_mutex);
  auto now = Clock::now();
  drop_expired(now);
  if (m_issued.size() >= kMaxOutstanding) {
    auto oldest = std::min_element(m_issued.begin(), m_issued.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    m_issued.erase(oldest);
  }
  m_issued.emplace(ticket, now);
  return ticket;
}

bool LaunchTickets::redeem(const std::string& ticket) {
  std::lock_guard lock(m_mutex);
  drop_expired(Clock::now());
  // Compared in constant time, one by one: the map's own lookup would
  // stop at the first differing byte.
  for (auto it = m_issued.begin(); it != m_issued.end(); ++it)
    if (constant_time_equal(it->first, ticket)) {
      m_issued.erase(it);
      return true;
    }
  return false;
}

void LaunchTickets::drop_expired(Clock::time_point now) {
  std::erase_if(m_issued, [this, now](const auto& entry) { return now - entry.second >= m_lifetime; });
}

}  // namespace corral
