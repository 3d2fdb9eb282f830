// The egress policy in JSON: a session's (network.policy in its JSON) and
// the operator's (egress_policy in /v1/health).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "corral/session/session.hpp"

namespace corral {

/// What the default policy refuses, in words, for a reader of the JSON.
extern const char* const kEgressDefaults;

/// {"defaults", "allow", "deny", "session_allow", "session_deny"}; null
/// without a policy (sessions share corrald's network).
nlohmann::json egress_policy_json(const std::optional<EgressPolicyView>& policy);
/// {"defaults", "allow", "deny"}: the operator's part alone; null without.
nlohmann::json operator_egress_json(const std::optional<EgressPolicyView>& policy);

}  // namespace corral
