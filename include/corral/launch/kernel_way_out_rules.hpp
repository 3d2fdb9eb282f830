// The text corral's kernel-forwarded way out hands to `nft -f -` and
// `ip -batch -` (kernel_way_out.hpp), and what it reads back from `nft
// list`: pure functions, so that the rules can be read and tested without
// root. docs/network.md, "The kernel way out".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "corral/egress/egress_policy.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// Every corrald's table is named this, or this + "_" + a suffix (kernel_way_out.hpp).
inline constexpr const char* kWayOutTablePrefix = "corral_way_out";
/// Every session's host end is named kSessionDevicePrefix + its id, whichever corrald made it.
inline constexpr const char* kSessionDevicePrefix = "cw";
/// The comment on the rule that drops what an uplink would route for others,
/// where corral turned its forwarding on: how every corrald finds which
/// uplinks were off before corral, from the tables alone.
inline constexpr const char* kUplinkGuardComment = "corral turned forwarding on here: answers to sessions alone";

/// An IPv4 pool the sessions' /30s come from ("10.201.0.0/16").
struct Ipv4Pool {
  uint32_t base = 0;  ///< host order
  int prefix = 16;
  static Result<Ipv4Pool> parse(const std::string& text);
  /// How many /30s it holds.
  uint32_t subnets() const { return prefix >= 30 ? 1 : 1u << (30 - prefix); }
  std::string to_string() const;
};

/// One session's /30: the host end's address, the session's, and the /30 itself.
struct SessionSubnet {
  std::string host, inside, network;
};
SessionSubnet subnet_at(const Ipv4Pool& pool, uint32_t index);
/// The index of the /30 that `address` (either end) lies in; nullopt outside the pool.
std::optional<uint32_t> subnet_index_of(const Ipv4Pool& pool, const std::string& address);

struct WayOutTableSettings {
  std::string table;                         ///< this corrald's table
  Ipv4Pool pool;
  std::vector<std::string> guarded_uplinks;  ///< the uplinks where corral turned forwarding on
  std::vector<std::string> allowed_ranges;   ///< the operator's --egress-allow IPv4 ranges
};

/// The whole table, for `nft -f -`: the masquerade (out of any device but a
/// session's), nothing opened into a session, the default policy,
/// the set of this corrald's session devices and the per-session counter
/// maps. Its rules match only the devices in its set: another corrald's
/// sessions are that corrald's table's to judge.
std::string way_out_table(const WayOutTableSettings& settings);
/// A session's host end: "cw" + its id (ids are 12 hex digits: 14 of the 15 characters a name may have).
std::string session_device(const std::string& session_id);
/// `nft -f -` text adding (or removing) the device to the table's set with its counters.
std::string session_device_added(const std::string& table, const std::string& device);
std::string session_device_removed(const std::string& table, const std::string& device);
/// `nft -f -` text, run in the session's namespace: with no proxy in the
/// way, its pages must not open connections to its own loopback (its
/// Chrome's DevTools port) but to its resolver (port 53); corrald (uid 0)
/// still may, and answers on connections corrald opened pass.
std::string inside_loopback_guard();

/// What a session's counters say, by name as in `nft list counters`.
struct DeviceCounts {
  uint64_t bytes_out = 0, bytes_in = 0;
  /// New connections refused, by the reason the relay would count them under.
  std::vector<std::pair<EgressReason, uint64_t>> refused;
};
DeviceCounts device_counts(const std::string& listing, const std::string& device);
/// The bytes of counter `name` in `nft list counters` output; nullopt if absent.
std::optional<uint64_t> counter_bytes(const std::string& listing, const std::string& name);
std::optional<uint64_t> counter_packets(const std::string& listing, const std::string& name);

/// The way-out tables of every corrald, from `nft list tables`.
std::vector<std::string> way_out_tables_in(const std::string& listing);
/// The uplinks a table's guard rules name, from `nft list table`.
std::vector<std::string> guarded_uplinks_in(const std::string& listing);
/// The devices in a table's session set, from `nft list table`.
std::vector<std::string> session_devices_in(const std::string& listing);

}  // namespace corral
