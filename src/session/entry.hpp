// SessionManager::Entry: one session as the manager holds it. Private to
// the manager's source files (manager.cpp, closing.cpp, recovery.cpp).
#pragma once

#include <chrono>

#include "corral/session/manager.hpp"

namespace corral {

struct SessionManager::Entry {
  SessionInfo info;  ///< guarded by SessionManager::m_mutex
  /// The browser's process and files; released once the session is closed,
  /// so a session in the history holds no fd.
  std::shared_ptr<BrowserProcess> browser;  ///< shared: read outside the manager's lock by a copy taken under it
  bool has_scope = false;       ///< info.scope is real: the cgroup exists
  bool announced = false;       ///< the client was given its id: listed, recorded, kept in the history
  bool warm = false;            ///< a warm browser nobody has claimed: unlisted, unnamed (warm_pool.cpp)
  bool frozen = false;          ///< its scope is frozen (a warm browser where the backend can freeze)
  /// A warm browser its refill has not made ready yet (never one being claimed).
  bool refilling = false;
  /// A warm browser still starting whose place a cold open took (its
  /// ticket went with it): its refill ends it once its start returns.
  bool gave_way = false;
  uint64_t pid_start_time = 0;  ///< tells the main process from a later one with its PID
  Admission::Ticket ticket;     ///< room held until the session is cleaned
  std::chrono::steady_clock::time_point expires, idle_expires;  ///< guarded like info
  size_t connections = 0;       ///< proxied client connections open; guarded like info

  /// Start the idle timeout again.
  void renew(std::chrono::steady_clock::time_point now) {
    idle_expires = now + info.idle_timeout;
    info.idle_expires_at = std::chrono::system_clock::now() + info.idle_timeout;
  }
};

}  // namespace corral
