// Logging to journald with structured fields. Under systemd, corrald's
// stderr already goes to the journal, but as plain text; sent natively, each
// line also carries the session it is about, so an operator can ask
//   journalctl CORRAL_SESSION_ID=3f2a9c0d1e4b
//   journalctl -u corral-3f2a9c0d1e4b.scope      (the daemon's lines about it
//                                                 next to the scope's own)
//   journalctl CORRAL_CLOSE_REASON=oom
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>

#include "corral/util/log_context.hpp"

namespace corral {

/// The journal entry of one log line: "KEY=value" fields. `unit_field` is
/// the field that names the session's unit for `journalctl -u` (system
/// manager) or `--user-unit` (user manager), or "" when there is no unit.
std::vector<std::string> journal_fields(spdlog::level::level_enum level, const std::string& message,
                                        const LogContext& context, const std::string& unit_field);

class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// Known once the backend is chosen: "OBJECT_SYSTEMD_UNIT" for the system
  /// manager, "OBJECT_SYSTEMD_USER_UNIT" for a user manager, "" for cgroupfs.
  void set_unit_field(std::string field) {
    std::lock_guard lock(mutex_);
    m_unit_field = std::move(field);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::string m_unit_field;
};

/// True when stderr is a journald stream (systemd sets $JOURNAL_STREAM to
/// its device and inode), the sign that native journal logging is wanted.
bool stderr_is_journal();

}  // namespace corral
