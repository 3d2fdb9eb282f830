#include "corral/util/log_context.hpp"

namespace corral {
namespace {
thread_local LogContext t_context;
}

const LogContext& current_log_context() { return t_context; }

SessionLogScope::SessionLogScope(std::string session_id, std::string unit, std::string close_reason)
    : m_previous(t_context) {
  t_context = LogContext{std::move(session_id), std::move(unit), std::move(close_reason)};
}

SessionLogScope::~SessionLogScope() { t_context = std::move(m_previous); }

}  // namespace corral
