#include "corral/session/session.hpp"

namespace corral {

const char* session_state_name(SessionState state) {
  switch (state) {
    case SessionState::starting: return "starting";
    case SessionState::running: return "running";
    case SessionState::closing: return "closing";
    case SessionState::closed: return "closed";
  }
  return "unknown";
}

const char* close_reason_name(CloseReason reason) {
  switch (reason) {
    case CloseReason::client: return "client";
    case CloseReason::expired: return "expired";
    case CloseReason::idle: return "idle";
    case CloseReason::oom: return "oom";
    case CloseReason::browser_exited: return "browser-exited";
    case CloseReason::shutdown: return "shutdown";
    case CloseReason::start_failed: return "start-failed";
    case CloseReason::disconnected: return "disconnected";
    case CloseReason::network_limit: return "network-limit";
    case CloseReason::warm_discarded: return "warm-discarded";
  }
  return "unknown";
}

}  // namespace corral
