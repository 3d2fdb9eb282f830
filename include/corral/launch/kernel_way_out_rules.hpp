// The text corral's kernel-forwarded way out hands to `nft -f -` and
// `ip -batch -` (kernel_way_out.hpp): pure functions, so that the rules
// can be read and tested without root. docs/network.md, "The kernel way
// out (prototype)".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

/// corral's own nftables table: made at start, kept across a crash.
inline constexpr const char* kWayOutTable = "corral_way_out";
/// Every session's host end is named kSessionDevicePrefix + its id.
inline constexpr const char* kSessionDevicePrefix = "cw";

/// An IPv4 pool the sessions' /30s come from ("10.201.0.0/16").
struct Ipv4Pool {
  uint32_t base = 0;  ///< host order
  int prefix = 16;
  static Result<Ipv4Pool> parse(const std::string& text);
  /// How many /30s it holds.
  uint32_t subnets() const { return prefix >= 30 ? 1 : 1u << (30 - prefix); }
  std::string to_string() const;
};

/// One session's /30: the host end's address and the session's.
struct SessionSubnet {
  std::string host, inside;
};
SessionSubnet subnet_at(const Ipv4Pool& pool, uint32_t index);
/// The index of the /30 that `address` (either end) lies in; nullopt outside the pool.
std::optional<uint32_t> subnet_index_of(const Ipv4Pool& pool, const std::string& address);

struct WayOutTableSettings {
  Ipv4Pool pool;
  std::vector<std::string> uplinks;          ///< devices the sessions' packets leave by (masqueraded)
  std::vector<std::string> guarded_uplinks;  ///< of those, where corral turned forwarding on
  std::vector<std::string> allowed_ranges;   ///< the operator's --egress-allow IPv4 ranges
};

/// The whole table, for `nft -f -`: the masquerade, the default policy and
/// the per-session counter maps.
std::string way_out_table(const WayOutTableSettings& settings);
/// A session's host end: "cw" + its id (ids are 12 hex digits: 14 of the 15 characters a name may have).
std::string session_device(const std::string& session_id);
/// `nft -f -` text adding (or removing) the device's two counters.
std::string session_counters_added(const std::string& device);
std::string session_counters_removed(const std::string& device);
/// `ip -batch -` text, run in the host's namespace: the pair, its peer
/// "eth0" made directly in the namespace of process `pid`, the host end up.
std::string host_end_batch(const std::string& device, int pid, const SessionSubnet& subnet);
/// `ip -batch -` text, run in the session's namespace: its end up, the default route.
std::string inside_end_batch(const SessionSubnet& subnet);
/// `nft -f -` text, run in the session's namespace: with no proxy in the
/// way, its pages must not open connections to its own loopback (its
/// Chrome's DevTools port) but to its resolver (port 53); corrald (uid 0)
/// still may, and answers on connections corrald opened pass.
std::string inside_loopback_guard();
/// The bytes of counter `name` in `nft list counters` output; nullopt if absent.
std::optional<uint64_t> counter_bytes(const std::string& listing, const std::string& name);

}  // namespace corral
