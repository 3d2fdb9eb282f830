// The "egress" field of an open request (POST /v1/sessions, corral:options,
// the connect-to-launch query): a session's own narrowing of the operator's
// egress policy, {"allow": [...], "deny": [...]}, each entry a string as
// egress/egress_rule.hpp reads it. Whether the operator's policy admits it
// is the session manager's question (EgressPolicy::admits).
#pragma once

#include <nlohmann/json.hpp>

#include "corral/egress/egress_rule.hpp"

namespace corral {

/// EBADMSG (→ 400), saying what is wrong, for anything but an object with
/// only "allow" and "deny", each a list of at most kMaxSessionEgressEntries
/// well-formed entries.
Result<EgressLists> parse_egress_field(const nlohmann::json& value);

}  // namespace corral
