// Parsing and validating a POST /v1/sessions body. Pure: no I/O, so every
// malformed or hostile body can be unit-tested on a string.
#pragma once

#include <string>

#include "corral/session/session.hpp"

namespace corral {

/// EBADMSG (→ 400) when the body is not a JSON object, has unknown fields or
/// fields of the wrong type; EINVAL (→ 422) when a value is not acceptable
/// (unknown kind, bad size, forbidden flag, ...). An empty body means defaults.
Result<SessionRequest> parse_session_request(const std::string& body);

}  // namespace corral
