// SessionManager::Entry: one session as the manager holds it. Private to
// the manager's two source files (session_manager.cpp, session_recovery.cpp).
#pragma once

#include <chrono>

#include "corral/session/manager.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

struct SessionManager::Entry {
  SessionInfo info;  ///< guarded by SessionManager::m_mutex
  SessionDirs dirs;
  UniqueFd pidfd;    ///< the browser's main process, for signals and exit
  uint64_t pid_start_time = 0;  ///< tells that process from a later one with its PID
  Admission::Ticket ticket;  ///< room held until the session is cleaned
  std::chrono::steady_clock::time_point expires, idle_expires;  ///< guarded like info

  /// Start the idle timeout again (and set the lifetime at start).
  void renew(std::chrono::steady_clock::time_point now) {
    idle_expires = now + info.idle_timeout;
    info.idle_expires_at = std::chrono::system_clock::now() + info.idle_timeout;
  }
};

}  // namespace corral
