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
// CI with a dev server on the host's 127.0.0.1; the operator's denied
// entries (--egress-deny) refuse more, and beat what is allowed. A
// session's own lists (EgressLists, "egress" in its open request) only
// narrow what the operator's policy lets through: its allow list means
// "only these", its deny list refuses more (admits() refuses a list that
// asks for more). Corrald's own listening addresses stay refused whatever
// is allowed: corral takes root peers on loopback for trusted callers, and
// a page must never reach its API.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <functional>
#include <string_view>
#include <vector>

#include "corral/egress/egress_rule.hpp"
#include "corral/egress/ip_address.hpp"

namespace corral {

enum class EgressReason : uint8_t {
  allowed, local, link_local, private_range, reserved, corral_itself,
  operator_deny,   ///< an entry of --egress-deny
  session_policy,  ///< the session's own lists: not in its allow list, or in its deny list
};
inline constexpr size_t kEgressReasons = 8;

/// "allowed", "local", "link-local", "private", "reserved", "corral-itself",
/// "operator-deny", "session-policy": the names refusals are counted and
/// logged under.
std::string_view egress_reason_name(EgressReason reason);

struct EgressDecision {
  EgressReason reason = EgressReason::allowed;
  bool allowed() const { return reason == EgressReason::allowed; }
};

struct RefusedRange {
  Cidr range;
  EgressReason reason;
};

/// Every range the default policy refuses by range (private, shared,
/// link-local, reserved, loopback), both families, with the reason it is
/// counted under: the host's other own addresses are the kernel's to name.
/// The kernel way out's nftables rules are made from it, so the two
/// policies cannot drift apart.
std::vector<RefusedRange> default_refused_ranges();

class EgressPolicy {
 public:
  /// Whether an address is this host's own (always given an unmapped one).
  using IsLocal = std::function<bool(const IpAddress&)>;

  struct Rules {
    /// --egress-allow: a range lifts every default refusal it covers (not
    /// corral-itself, not a deny); a name lifts none (egress_rule.hpp)
    std::vector<EgressRule> allowed;
    std::vector<IpEndpoint> corral_listeners;  ///< where corrald listens; 0.0.0.0 or :: means every local address
    std::vector<EgressRule> denied;            ///< --egress-deny: refused, whatever is allowed
  };

  /// `is_local`: the kernel's answer (is_local_per_kernel) unless a test
  /// gives its own.
  explicit EgressPolicy(Rules rules, IsLocal is_local = {});
  /// The rules in force at the moment of the copy or move.
  EgressPolicy(const EgressPolicy& other) : m_rules(other.m_rules.load()), m_is_local(other.m_is_local) {}
  EgressPolicy(EgressPolicy&& other) noexcept
      : m_rules(other.m_rules.load()), m_is_local(std::move(other.m_is_local)) {}

  /// The verdict for one resolved address and port, under the operator's
  /// rules and then `session`'s, if given. Thread-safe.
  EgressDecision decide(const IpEndpoint& target, const EgressLists* session = nullptr) const;

  /// Whether a session may ask for `session`: EBADMSG, saying which entry
  /// and why, for an allow entry that reaches anything this policy refuses
  /// (a range the default refuses and no --egress-allow range lifts for
  /// all its ports, an --egress-deny entry, corrald itself, a local
  /// address). Names must be resolved: each of their addresses is judged.
  Result<void> admits(const EgressLists& session) const;

  /// The rules in force now (a copy: names' addresses may be replaced).
  Rules rules() const { return *m_rules.load(); }

  /// Put the operator's lists again, their names resolved anew (by
  /// corrald's refresher, egress_names_refresh.hpp): a denied name that
  /// moved to other addresses is denied there from now on. corrald's
  /// listeners stay as they were. Thread-safe against decide().
  void replace_lists(std::vector<EgressRule> allowed, std::vector<EgressRule> denied);

 private:
  bool is_corral_itself(const Rules& rules, const IpEndpoint& target) const;
  static bool is_allowed(const Rules& rules, const IpEndpoint& target);
  /// Why an address is refused by default; `allowed` if it is not.
  EgressReason default_refusal(const IpAddress& address) const;
  /// An EBADMSG naming `entry` if `range` on `ports` reaches what is refused.
  Result<void> admits_reach(const Rules& rules, const Cidr& range, const PortRange& ports,
                            const std::string& entry) const;
  /// An --egress-allow range holds all of `range` on all of `ports`.
  static bool lifted(const Rules& rules, const Cidr& range, const PortRange& ports);

  /// Read once per question (one load), so a decision never mixes two
  /// versions of the lists.
  std::atomic<std::shared_ptr<const Rules>> m_rules;
  IsLocal m_is_local;
};

}  // namespace corral
