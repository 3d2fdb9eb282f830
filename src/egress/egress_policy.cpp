#include "corral/egress/egress_policy.hpp"

#include <algorithm>

#include "corral/egress/local_address.hpp"

namespace corral {
namespace {

struct RefusedRange {
  Cidr range;
  EgressReason reason;
};

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

}  // namespace

std::string_view egress_reason_name(EgressReason reason) {
  switch (reason) {
    case EgressReason::allowed: return "allowed";
    case EgressReason::local: return "local";
    case EgressReason::link_local: return "link-local";
    case EgressReason::private_range: return "private";
    case EgressReason::reserved: return "reserved";
    case EgressReason::corral_itself: return "corral-itself";
  }
  return "unknown";
}

EgressPolicy::EgressPolicy(Rules rules, IsLocal is_local)
    : m_rules(std::move(rules)), m_is_local(is_local ? std::move(is_local) : IsLocal(is_local_per_kernel)) {
  for (auto& listener : m_rules.corral_listeners) listener.address = listener.address.unmapped();
}

EgressDecision EgressPolicy::decide(const IpEndpoint& target) const {
  IpEndpoint judged{target.address.unmapped(), target.port};
  if (is_corral_itself(judged)) return {EgressReason::corral_itself};
  if (is_allowed(judged.address)) return {EgressReason::allowed};
  return {default_refusal(judged.address)};
}

// A listener on 0.0.0.0 or :: answers on every local address (:: on IPv4
// ones too, unless IPV6_V6ONLY: counted as if not), so any local address
// with its port is corral.
bool EgressPolicy::is_corral_itself(const IpEndpoint& target) const {
  bool local = false, asked = false;
  for (const auto& listener : m_rules.corral_listeners) {
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

bool EgressPolicy::is_allowed(const IpAddress& address) const {
  return std::any_of(m_rules.allowed.begin(), m_rules.allowed.end(),
                     [&](const Cidr& range) { return range.contains(address); });
}

// Ranges first: they need no question to the kernel. A private address on
// one of the host's interfaces counts as private.
EgressReason EgressPolicy::default_refusal(const IpAddress& address) const {
  if (address.is_unspecified()) return EgressReason::local;
  for (const auto& refused : refused_ranges())
    if (refused.range.contains(address)) return refused.reason;
  return m_is_local(address) ? EgressReason::local : EgressReason::allowed;
}

Result<Cidr> parse_egress_allow(std::string_view text) {
  auto range = Cidr::parse(text);
  if (range) return range;
  return Error::make(EINVAL, range.error().message +
                                 " (give a range a session may connect to despite the default policy: "
                                 "ADDRESS/PREFIX such as 10.1.0.0/16 or fd12::/64, or one ADDRESS such as 127.0.0.1)");
}

}  // namespace corral
