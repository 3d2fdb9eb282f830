// EgressRule: one entry of an allow or deny list, the operator's
// (--egress-allow, --egress-deny) or a session's ("egress": {"allow",
// "deny"}). Written as
//
//   10.0.0.0/8          a range, every port
//   127.0.0.1:3000      one address, one port
//   10.1.0.0/16:8000-8099
//   [fd00::/8]:443      IPv6 with a port takes brackets
//   db.example:5432     a name, resolved by corrald (egress_names.hpp)
//
// A name stands for the addresses it resolved to, and for nothing more: a
// name never lifts a default refusal (a name that resolves to 10.1.2.3 is
// still refused as private unless a range allows 10.1.2.3). The policy
// judges the address connected to, never the name the page asked for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corral/egress/ip_address.hpp"

namespace corral {

/// Ports low..high, both included; every port by default.
struct PortRange {
  uint16_t low = 0;
  uint16_t high = 65535;

  bool every() const { return low == 0 && high == 65535; }
  bool contains(uint16_t port) const { return port >= low && port <= high; }
  bool contains(const PortRange& other) const { return other.low >= low && other.high <= high; }
  bool overlaps(const PortRange& other) const { return other.low <= high && low <= other.high; }
  /// "" for every port, ":443", ":8000-8099".
  std::string suffix() const;
};

struct EgressRule {
  std::optional<Cidr> range;         ///< set for a range; unset for a name
  std::string name;                  ///< set for a name
  std::vector<IpAddress> addresses;  ///< a name's, once resolved; none: matches nothing
  PortRange ports;

  EgressRule() = default;
  EgressRule(Cidr cidr) : range(cidr) {}  // NOLINT: a bare range is the common rule

  bool is_name() const { return !range; }
  /// The address and port fall under this rule (a name: one of its addresses).
  bool matches(const IpEndpoint& target) const;
  /// As written, normalised: "10.0.0.0/8", "[fd00::/8]:443", "db.example:5432".
  std::string to_string() const;
  /// to_string() and, for a name, what it resolved to: "db.example:5432 (10.1.2.3)".
  std::string describe() const;
};

/// One entry, as above. EINVAL saying what is wrong and what to write instead.
Result<EgressRule> parse_egress_rule(std::string_view text);

/// An allow list and a deny list: the operator's, or one session's narrowing.
struct EgressLists {
  std::vector<EgressRule> allow;
  std::vector<EgressRule> deny;

  bool empty() const { return allow.empty() && deny.empty(); }
  bool has_names() const;
};

/// The most entries a session's list may have (each is judged for every
/// connection the session makes).
inline constexpr size_t kMaxSessionEgressEntries = 64;

/// Two ranges share an address (one holds the other, or they are equal).
bool overlaps(const Cidr& a, const Cidr& b);
/// `outer` holds all of `inner`.
bool contains(const Cidr& outer, const Cidr& inner);

}  // namespace corral
