#include "corral/api/egress_policy_json.hpp"

namespace corral {

const char* const kEgressDefaults =
    "refused: this host's own addresses, link-local, private and shared ranges, multicast and reserved, and "
    "corrald itself; allow lifts a default refusal, deny beats allow; a session's lists only narrow";

nlohmann::json operator_egress_json(const std::optional<EgressPolicyView>& policy) {
  if (!policy) return nullptr;
  return {{"defaults", kEgressDefaults}, {"allow", policy->allow}, {"deny", policy->deny}};
}

nlohmann::json egress_policy_json(const std::optional<EgressPolicyView>& policy) {
  auto shown = operator_egress_json(policy);
  if (!policy) return shown;
  shown["session_allow"] = policy->session_allow;
  shown["session_deny"] = policy->session_deny;
  return shown;
}

}  // namespace corral
