// EgressPolicy: may a session connect to this address? Judged on the
// address actually connected to (after any name is resolved), so a name
// that resolves to a private address is caught.
//
// Refused by default: the host itself (every address the kernel calls
// local, local_address.hpp, and 0.0.0.0 and ::, which reach it too),
// link-local (169.254.0.0/16, where clouds keep their metadata, and
// fe80::/10), the private and shared ranges (10/8, 172.16/12, 192.168/16,
// 100.64/10, fc00::/7), and what no page has business connecting to
// (0/8, 224/4 multicast, 240/4 reserved and broadcast, ff00::/8). An
// operator's allowed ranges (--egress-allow) lift those refusals, e.g. for
// CI with a dev server on the host's 127.0.0.1. Corrald's own listening
// addresses stay refused whatever is allowed: corral takes root peers on
// loopback for trusted callers, and a page must never reach its API.
#pragma once

#include <array>
#include <functional>
#include <string_view>
#include <vector>

#include "corral/egress/ip_address.hpp"

namespace corral {

enum class EgressReason : uint8_t { allowed, local, link_local, private_range, reserved, corral_itself };
inline constexpr size_t kEgressReasons = 6;

/// "allowed", "local", "link-local", "private", "reserved", "corral-itself":
/// the names refusals are counted and logged under.
std::string_view egress_reason_name(EgressReason reason);

struct EgressDecision {
  EgressReason reason = EgressReason::allowed;
  bool allowed() const { return reason == EgressReason::allowed; }
};

class EgressPolicy {
 public:
  /// Whether an address is this host's own (always given an unmapped one).
  using IsLocal = std::function<bool(const IpAddress&)>;

  struct Rules {
    std::vector<Cidr> allowed;                 ///< --egress-allow: lifts every refusal but corral-itself
    std::vector<IpEndpoint> corral_listeners;  ///< where corrald listens; 0.0.0.0 or :: means every local address
  };

  /// `is_local`: the kernel's answer (is_local_per_kernel) unless a test
  /// gives its own.
  explicit EgressPolicy(Rules rules, IsLocal is_local = {});

  /// The verdict for one resolved address and port. Thread-safe.
  EgressDecision decide(const IpEndpoint& target) const;

  const Rules& rules() const { return m_rules; }

 private:
  bool is_corral_itself(const IpEndpoint& target) const;
  bool is_allowed(const IpAddress& address) const;
  /// Why an address is refused by default; `allowed` if it is not.
  EgressReason default_refusal(const IpAddress& address) const;

  Rules m_rules;
  IsLocal m_is_local;
};

/// Parse one --egress-allow value (Cidr::parse), with a message that says
/// what the flag takes.
Result<Cidr> parse_egress_allow(std::string_view text);

}  // namespace corral
