// Connect-to-launch takes the fields of POST /v1/sessions from the query of
// its URL (a WebSocket client cannot send a body): ?kind=chrome&args=--a&
// args=--b&memory_max=1G&labels.bot=crawler. The query becomes the same
// JSON object and goes through the same checks.
#pragma once

#include <map>
#include <string>

#include "corral/session/session.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// The session a launch URL asks for. `token` and `ticket` are not fields
/// (they are credentials, checked before); `args` repeats; `labels.NAME=VALUE` sets a
/// label; `egress_allow=A,B` and `egress_deny=C` (repeatable, comma lists)
/// fill "egress"; tasks_max in digits is a number; every other value is a string.
/// Errors as parse_session_request's.
Result<SessionRequest> parse_launch_query(const std::multimap<std::string, std::string>& params);

}  // namespace corral
