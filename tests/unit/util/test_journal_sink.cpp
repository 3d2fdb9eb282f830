#include <doctest/doctest.h>

#include <algorithm>

#include "corral/util/journal_sink.hpp"

using namespace corral;

namespace {
bool has(const std::vector<std::string>& fields, const std::string& field) {
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}
}  // namespace

TEST_CASE("a line outside any session has only the message, priority and identifier") {
  auto fields = journal_fields(spdlog::level::warn, "backend passed over", LogContext{}, "OBJECT_SYSTEMD_UNIT");
  CHECK(fields == std::vector<std::string>{"MESSAGE=backend passed over", "PRIORITY=4", "SYSLOG_IDENTIFIER=corrald"});
}

TEST_CASE("a line about a session carries its id, unit and close reason") {
  SessionLogScope outer("0123456789ab", "corral-0123456789ab.scope", "oom");
  auto fields = journal_fields(spdlog::level::err, "closed", current_log_context(), "OBJECT_SYSTEMD_UNIT");
  CHECK(has(fields, "PRIORITY=3"));
  CHECK(has(fields, "CORRAL_SESSION_ID=0123456789ab"));
  CHECK(has(fields, "CORRAL_UNIT=corral-0123456789ab.scope"));
  CHECK(has(fields, "OBJECT_SYSTEMD_UNIT=corral-0123456789ab.scope"));
  CHECK(has(fields, "CORRAL_CLOSE_REASON=oom"));
}

TEST_CASE("scopes nest and restore; cgroupfs sessions have no unit field") {
  {
    SessionLogScope outer("aaaaaaaaaaaa", "");
    {
      SessionLogScope inner("bbbbbbbbbbbb", "corral-bbbbbbbbbbbb.scope");
      CHECK(current_log_context().session_id == "bbbbbbbbbbbb");
    }
    CHECK(current_log_context().session_id == "aaaaaaaaaaaa");
    auto fields = journal_fields(spdlog::level::info, "opened", current_log_context(), "");
    CHECK(has(fields, "CORRAL_SESSION_ID=aaaaaaaaaaaa"));
    CHECK(std::none_of(fields.begin(), fields.end(), [](const auto& f) { return f.find("UNIT=") != std::string::npos; }));
  }
  CHECK(current_log_context().session_id.empty());
}
