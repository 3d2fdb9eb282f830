// The JSON shapes of the HTTP API: sessions, close reports (errors: server/error_body.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include "corral/api/public_address.hpp"
#include "corral/server/error_body.hpp"
#include "corral/session/session.hpp"
#include "corral/util/json_optional.hpp"

namespace corral {

nlohmann::json limits_json(const Limits& limits);
/// `base`: where the client reached corral; devtools.http and .ws go
/// through it (null without one: a unix socket), devtools.local is the
/// browser's own loopback endpoint.
nlohmann::json session_json(const SessionInfo& session, const std::optional<PublicBase>& base = std::nullopt);
nlohmann::json close_report_json(const CloseReport& report);
nlohmann::json stats_json(const CgroupStats& stats);
/// Where a close spent its time, in tenths of a millisecond.
nlohmann::json phases_json(const ClosePhases& phases);
/// RFC 3339 UTC with milliseconds: "2026-11-28T07:10:00.123Z".
std::string format_timestamp(std::chrono::system_clock::time_point when);

}  // namespace corral
