// Parsing and validating a POST /v1/sessions body. Pure: no I/O, so every
// malformed or hostile body can be unit-tested on a string.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "corral/session/session.hpp"

namespace corral {

/// EBADMSG (→ 400) when the body is not a JSON object, has unknown fields or
/// fields of the wrong type; EINVAL (→ 422) when a value is not acceptable
/// (unknown kind, bad size, forbidden flag, ...). An empty body means defaults.
/// The body is parsed with parse_json_bounded's default limits (64 levels,
/// 100,000 values): beyond them it is EBADMSG too.
Result<SessionRequest> parse_session_request(const std::string& body);

/// The same checks on a document parsed already (corral:options in a
/// WebDriver new session), so it is not dumped and parsed again.
Result<SessionRequest> session_request_from(const nlohmann::json& document);

}  // namespace corral
