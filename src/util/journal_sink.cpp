#include "corral/util/journal_sink.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>

namespace corral {

namespace {

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return LOG_DEBUG;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::critical: return LOG_CRIT;
    default: return LOG_INFO;
  }
}

}  // namespace

std::vector<std::string> journal_fields(spdlog::level::level_enum level, const std::string& message,
                                        const LogContext& context, const std::string& unit_field) {
  std::vector<std::string> fields = {"MESSAGE=" + message, "PRIORITY=" + std::to_string(syslog_priority(level)),
                                     "SYSLOG_IDENTIFIER=corrald"};
  if (!context.session_id.empty()) fields.push_back("CORRAL_SESSION_ID=" + context.session_id);
  if (!context.unit.empty()) {
    fields.push_back("CORRAL_UNIT=" + context.unit);
    if (!unit_field.empty()) fields.push_back(unit_field + "=" + context.unit);
  }
  if (!context.close_reason.empty()) fields.push_back("CORRAL_CLOSE_REASON=" + context.close_reason);
  return fields;
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  auto fields = journal_fields(msg.level, std::string(msg.payload.data(), msg.payload.size()),
                               current_log_context(), m_unit_field);
  std::vector<struct iovec> iov;
  for (auto& field : fields) iov.push_back({field.data(), field.size()});
  // Nowhere to report a failure to log; the journal drops rather than blocks.
  (void)sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat st;
  return ::fstat(STDERR_FILENO, &st) == 0 && st.st_dev == device && st.st_ino == inode;
}

}  // namespace corral
