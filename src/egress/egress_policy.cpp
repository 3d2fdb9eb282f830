#include "corral/egress/egress_policy.hpp"

#include <algorithm>

#include "corral/egress/local_address.hpp"

namespace corral {
namespace {

Cidr range(const char* text) {
  return *Cidr::parse(text);  // constants below, all valid
}

// The ranges refused whatever the kernel says (a private address may be
// another host's on the LAN, not this one's). The host's own addresses are
// the kernel's to name.
const std::vector<RefusedRange>& refused_ranges() {
  static const std::vector<RefusedRange> ranges = {
      {range("169.254.0.0/16"), EgressReason::link_local}, {range("fe80::/10"), EgressReason::link_local},
      {range("10.0.0.0/8"), EgressReason::private_range},  {range("172.16.0.0/12"), EgressReason::private_range},
      {range("192.168.0.0/16"), EgressReason::private_range}, {range("100.64.0.0/10"), EgressReason::private_range},
      {range("fc00::/7"), EgressReason::private_range},    {range("0.0.0.0/8"), EgressReason::reserved},
      {range("224.0.0.0/4"), EgressReason::reserved},      {range("240.0.0.0/4"), EgressReason::reserved},
      {range("ff00::/8"), EgressReason::reserved},
  };
  return ranges;
}

// What the kernel calls local whatever the host's interfaces: judged by
// admits(), which must answer for a whole range without asking the kernel
// about each of its addresses.
const std::vector<RefusedRange>& loopback_ranges() {
  static const std::vector<RefusedRange> ranges = {
      {range("127.0.0.0/8"), EgressReason::local}, {range("::1"), EgressReason::local},
      {range("::"), EgressReason::local}};
  return ranges;
}

}  // namespace

std::vector<RefusedRange> default_refused_ranges() {
  std::vector<RefusedRange> all;
  for (const auto* list : {&refused_ranges(), &loopback_ranges()}) all.insert(all.end(), list->begin(), list->end());
  return all;
}

namespace {

bool any_matches(const std::vector<EgressRule>& rules, const IpEndpoint& target) {
  return std::any_of(rules.begin(), rules.end(), [&](const EgressRule& rule) { return rule.matches(target); });
}

// A rule as the ranges it stands for: its range, or a name's addresses.
std::vector<Cidr> ranges_of(const EgressRule& rule) {
  if (rule.range) return {*rule.range};
  std::vector<Cidr> ranges;
  for (const auto& address : rule.addresses)
    ranges.push_back({address.unmapped(), static_cast<uint8_t>(address.unmapped().is_v4() ? 32 : 128)});
  return ranges;
}

Error too_wide(const std::string& entry, const std::string& what) {
  return Error::make(EBADMSG, "egress.allow entry '" + entry + "' reaches " + what +
                                  ", which the operator's policy refuses: a session's lists can only narrow it");
}

}  // namespace

std::string_view egress_reason_name(EgressReason reason) {
  switch (reason) {
    case EgressReason::allowed: return "allowed";
    case EgressReason::local: return "local";
    case EgressReason::link_local: return "link-local";
    case EgressReason::private_range: return "private";
    case EgressReason::reserved: return "reserved";
    case EgressReason::corral_itself: return "corral-itself";
    case EgressReason::operator_deny: return "operator-deny";
    case EgressReason::session_policy: return "session-policy";
  }
  return "unknown";
}

EgressPolicy::EgressPolicy(Rules rules, IsLocal is_local)
    : m_is_local(is_local ? std::move(is_local) : IsLocal(is_local_per_kernel)) {
  for (auto& listener : rules.corral_listeners) listener.address = listener.address.unmapped();
  m_rules.store(std::make_shared<const Rules>(std::move(rules)));
}

void EgressPolicy::replace_lists(std::vector<EgressRule> allowed, std::vector<EgressRule> denied) {
  auto rules = std::make_shared<Rules>(*m_rules.load());
  rules->allowed = std::move(allowed);
  rules->denied = std::move(denied);
  m_rules.store(std::move(rules));
}

// The operator's word first (corral itself, its denials, the defaults it
// did not lift); the session's lists only narrow what that lets through.
EgressDecision EgressPolicy::decide(const IpEndpoint& target, const EgressLists* session) const {
  IpEndpoint judged{target.address.unmapped(), target.port};
  auto rules = m_rules.load();
  if (is_corral_itself(*rules, judged)) return {EgressReason::corral_itself};
  if (any_matches(rules->denied, judged)) return {EgressReason::operator_deny};
  if (!is_allowed(*rules, judged)) {
    auto refusal = default_refusal(judged.address);
    if (refusal != EgressReason::allowed) return {refusal};
  }
  if (!session) return {EgressReason::allowed};
  if (any_matches(session->deny, judged)) return {EgressReason::session_policy};
  if (!session->allow.empty() && !any_matches(session->allow, judged)) return {EgressReason::session_policy};
  return {EgressReason::allowed};
}

Result<void> EgressPolicy::admits(const EgressLists& session) const {
  auto rules = m_rules.load();
  for (const auto& rule : session.allow) {
    if (rule.is_name() && rule.addresses.empty())
      return Error::make(EBADMSG, "egress.allow entry '" + rule.to_string() + "' has no address");
    for (const auto& range : ranges_of(rule)) CORRAL_TRY(admits_reach(*rules, range, rule.ports, rule.describe()));
  }
  return success();
}

// Ranges overlap only by one holding the other: the narrower of the two is
// what the session would reach there, and one --egress-allow range must
// hold it on every port asked for.
Result<void> EgressPolicy::admits_reach(const Rules& rules, const Cidr& asked, const PortRange& ports,
                                        const std::string& entry) const {
  for (const auto& denied : rules.denied)
    for (const auto& range : ranges_of(denied))
      if (overlaps(asked, range) && ports.overlaps(denied.ports))
        return too_wide(entry, denied.describe() + " (--egress-deny)");
  for (const auto* list : {&refused_ranges(), &loopback_ranges()})
    for (const auto& refused : *list) {
      if (!overlaps(asked, refused.range)) continue;
      const Cidr& reached = asked.prefix > refused.range.prefix ? asked : refused.range;
      if (!lifted(rules, reached, ports))
        return too_wide(entry, reached.to_string() + " (" + std::string(egress_reason_name(refused.reason)) + ")");
    }
  bool one_address = asked.prefix == (asked.network.is_v4() ? 32 : 128);
  if (one_address && m_is_local(asked.network) && !lifted(rules, asked, ports))
    return too_wide(entry, asked.network.to_string() + " (local: this host's)");
  for (const auto& listener : rules.corral_listeners) {
    bool here = asked.contains(listener.address) || (listener.address.is_unspecified() && one_address &&
                                                     (asked.network.is_unspecified() || m_is_local(asked.network)));
    if (here && ports.contains(listener.port)) return too_wide(entry, "corrald itself");
  }
  return success();
}

bool EgressPolicy::lifted(const Rules& rules, const Cidr& range, const PortRange& ports) {
  return std::any_of(rules.allowed.begin(), rules.allowed.end(), [&](const EgressRule& rule) {
    return rule.range && contains(*rule.range, range) && rule.ports.contains(ports);
  });
}

// A listener on 0.0.0.0 or :: answers on every local address (:: on IPv4
// ones too, unless IPV6_V6ONLY: counted as if not), so any local address
// with its port is corral.
bool EgressPolicy::is_corral_itself(const Rules& rules, const IpEndpoint& target) const {
  bool local = false, asked = false;
  for (const auto& listener : rules.corral_listeners) {
    if (listener.port != target.port) continue;
    if (listener.address == target.address) return true;
    if (!listener.address.is_unspecified()) continue;
    if (!asked) {
      local = target.address.is_unspecified() || m_is_local(target.address);
      asked = true;
    }
    if (local) return true;
  }
  return false;
}

// Only ranges lift a default refusal: a name's addresses are judged like
// any other ("never trusted": the name's owner chooses where it points).
bool EgressPolicy::is_allowed(const Rules& rules, const IpEndpoint& target) {
  return std::any_of(rules.allowed.begin(), rules.allowed.end(),
                     [&](const EgressRule& rule) { return rule.range && rule.matches(target); });
}

// Ranges first: they need no question to the kernel. A private address on
// one of the host's interfaces counts as private.
EgressReason EgressPolicy::default_refusal(const IpAddress& address) const {
  if (address.is_unspecified()) return EgressReason::local;
  for (const auto& refused : refused_ranges())
    if (refused.range.contains(address)) return refused.reason;
  return m_is_local(address) ? EgressReason::local : EgressReason::allowed;
}

}  // namespace corral
