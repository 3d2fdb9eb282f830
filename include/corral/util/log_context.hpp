// Which session a log line is about. Set for the span of work on one session,
// so every line logged meanwhile — by the manager, the cleanup, the backend —
// carries the session's id and unit as journal fields without each call
// passing them along.
#pragma once

#include <string>

namespace corral {

struct LogContext {
  std::string session_id;
  std::string unit;          ///< "corral-<id>.scope", or "" for cgroupfs
  std::string close_reason;  ///< while the session is being closed
};

/// The context of the calling thread (empty outside any SessionLogScope).
const LogContext& current_log_context();

/// Sets the calling thread's context; restores the previous one on exit.
class SessionLogScope {
 public:
  SessionLogScope(std::string session_id, std::string unit, std::string close_reason = "");
  ~SessionLogScope();
  SessionLogScope(const SessionLogScope&) = delete;
  SessionLogScope& operator=(const SessionLogScope&) = delete;

 private:
  LogContext m_previous;
};

}  // namespace corral
