#include "corral/api/egress_request.hpp"

namespace corral {
namespace {
using nlohmann::json;

Result<std::vector<EgressRule>> parse_list(const json& value, const std::string& field) {
  if (!value.is_array()) return Error::make(EBADMSG, "field '" + field + "' must be an array of strings");
  if (value.size() > kMaxSessionEgressEntries)
    return Error::make(EBADMSG, "field '" + field + "' has " + std::to_string(value.size()) + " entries: at most " +
                                    std::to_string(kMaxSessionEgressEntries));
  std::vector<EgressRule> rules;
  for (const auto& entry : value) {
    if (!entry.is_string()) return Error::make(EBADMSG, "field '" + field + "' must be an array of strings");
    auto rule = parse_egress_rule(entry.get<std::string>());
    if (!rule) return Error::make(EBADMSG, field + ": " + rule.error().message);
    rules.push_back(std::move(*rule));
  }
  return rules;
}

}  // namespace

Result<EgressLists> parse_egress_field(const json& value) {
  if (!value.is_object())
    return Error::make(EBADMSG, "field 'egress' must be an object: {\"allow\": [...], \"deny\": [...]}");
  EgressLists lists;
  for (const auto& [key, list] : value.items()) {
    if (key != "allow" && key != "deny")
      return Error::make(EBADMSG, "unknown field 'egress." + key + "' (egress takes \"allow\" and \"deny\")");
    CORRAL_TRY_ASSIGN(auto rules, parse_list(list, "egress." + key));
    (key == "allow" ? lists.allow : lists.deny) = std::move(rules);
  }
  return lists;
}

}  // namespace corral
