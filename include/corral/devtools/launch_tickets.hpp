// LaunchTickets: what GET /json/version at corral's root puts in the launch
// URL it hands out instead of the API token. Playwright's connectOverCDP
// and Puppeteer's browserURL read that URL and connect to it; clients log
// such URLs, so it must not carry the master token. A ticket opens one
// connect-to-launch, once, within 60 s of being handed out.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace corral {

class LaunchTickets {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kLifetime{60};
  static constexpr size_t kMaxOutstanding = 1024;  ///< the oldest go first beyond this

  explicit LaunchTickets(Clock::duration lifetime = kLifetime) : m_lifetime(lifetime) {}

  /// A new ticket: 128 random bits in hex.
  std::string issue();
  /// True, once, for a ticket this object issued less than its lifetime ago.
  bool redeem(const std::string& ticket);

 private:
  void drop_expired(Clock::time_point now);

  const Clock::duration m_lifetime;
  std::mutex m_mutex;
  std::map<std::string, Clock::time_point> m_issued;  ///< ticket -> when
};

}  // namespace corral
