#include "corral/session/session_egress.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace corral {
namespace {

std::vector<std::string> described(const std::vector<EgressRule>& rules) {
  std::vector<std::string> texts;
  for (const auto& rule : rules) texts.push_back(rule.describe());
  return texts;
}

EgressLists ranges_only(const EgressLists& lists) {
  EgressLists ranges = lists;
  auto named = [](const EgressRule& rule) { return rule.is_name(); };
  ranges.allow.erase(std::remove_if(ranges.allow.begin(), ranges.allow.end(), named), ranges.allow.end());
  ranges.deny.erase(std::remove_if(ranges.deny.begin(), ranges.deny.end(), named), ranges.deny.end());
  return ranges;
}

}  // namespace

Result<void> check_session_egress(const EgressPolicy* policy, const EgressLists& asked) {
  if (asked.empty()) return success();
  if (!policy)
    return Error::make(EOPNOTSUPP, "egress: sessions share corrald's network here, with no egress policy to narrow "
                                   "(docs/network.md)");
  return policy->admits(ranges_only(asked));
}

Result<EgressLists> settle_session_egress(const EgressPolicy* policy, EgressLists asked, const NameResolver& resolver) {
  if (!asked.has_names() || !policy) return asked;
  if (auto resolved = resolve_names(asked, resolver); !resolved)
    return Error::make(EBADMSG, resolved.error().message);
  CORRAL_TRY(policy->admits(asked));
  return asked;
}

EgressLists readopted_session_egress(const std::string& id, EgressLists recorded, const NameResolver& resolver) {
  if (!recorded.has_names()) return recorded;
  std::vector<std::string> problems;
  (void)resolve_names(recorded, resolver, true, &problems);
  for (const auto& problem : problems)
    spdlog::warn("session {}: {} at adoption: it allows or denies nothing now", id, problem);
  return recorded;
}

EgressPolicyView egress_policy_view(const EgressPolicy& policy, const EgressLists& session) {
  auto rules = policy.rules();
  return {described(rules.allowed), described(rules.denied), described(session.allow), described(session.deny)};
}

}  // namespace corral
