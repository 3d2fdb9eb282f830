#include "corral/launch/kernel_way_out_rules.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "corral/egress/egress_policy.hpp"

namespace corral {
namespace {

// The reasons the table counts refusals under, each a map of its own
// (`refused_<key>`: device to counter `<device>_<key>`).
struct CountedReason {
  EgressReason reason;
  const char* key;
};
constexpr CountedReason kCountedReasons[] = {{EgressReason::local, "local"},
                                             {EgressReason::link_local, "link_local"},
                                             {EgressReason::private_range, "private"},
                                             {EgressReason::reserved, "reserved"}};

const char* key_of(EgressReason reason) {
  for (const auto& counted : kCountedReasons)
    if (counted.reason == reason) return counted.key;
  return "reserved";
}

// A rule's tail that counts the refusal against the session's device and
// refuses: Chrome sees an admin-prohibited, a failed connection.
std::string refused_as(EgressReason reason, const char* comment) {
  return std::string(" counter name iifname map @refused_") + key_of(reason) +
         " reject with icmpx admin-prohibited comment \"" + comment + "\"\n";
}

// The default policy's IPv4 ranges (egress_policy.hpp, one list for both
// ways out), a rule per reason; the host's own addresses are refused by
// `fib daddr type local` in the input hook.
std::string refused_ipv4_rules() {
  std::string rules;
  for (const auto& counted : kCountedReasons) {
    std::string set;
    for (const auto& refused : default_refused_ranges())
      if (refused.reason == counted.reason && refused.range.network.is_v4())
        set += (set.empty() ? "" : ", ") + refused.range.to_string();
    if (!set.empty())
      rules += "    iifname @session_devices ip daddr { " + set + " }" +
               refused_as(counted.reason, "the default policy's ranges");
  }
  return rules;
}

std::string dotted(uint32_t address) {
  in_addr raw{htonl(address)};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &raw, text, sizeof text);
  return text;
}

std::optional<uint32_t> parse_dotted(const std::string& text) {
  in_addr raw{};
  if (::inet_pton(AF_INET, text.c_str(), &raw) != 1) return std::nullopt;
  return ntohl(raw.s_addr);
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// Where corral turned an uplink's forwarding on, the host must not start
// routing for others: what comes in there is forwarded only as an answer
// to a session (any corrald's: their devices share the prefix).
std::string uplink_guards(const std::vector<std::string>& guarded) {
  std::string rules;
  for (const auto& uplink : guarded)
    rules += "    iifname \"" + uplink + "\" oifname \"" + kSessionDevicePrefix +
             "*\" ct state established,related accept\n"
             "    iifname \"" + uplink + "\" drop comment \"" + kUplinkGuardComment + "\"\n";
  return rules;
}

// Every per-session counter: the map that finds it by device, and the
// suffix of its name (`<device>_<suffix>`). The table's maps, a session's
// counters added and removed: all made from this one list.
struct CounterMap {
  std::string map, suffix;
};
std::vector<CounterMap> counter_maps() {
  std::vector<CounterMap> maps = {{"out_bytes", "out"}, {"in_bytes", "in"}};
  for (const auto& counted : kCountedReasons) maps.push_back({std::string("refused_") + counted.key, counted.key});
  return maps;
}

std::string counter_map_declarations() {
  std::string text = "  set session_devices { type ifname; }\n";
  for (const auto& counter : counter_maps()) text += "  map " + counter.map + " { type ifname : counter; }\n";
  return text;
}

// The quoted strings of a `{ "a", "b" }` list starting at `from`.
std::vector<std::string> quoted_until_brace(const std::string& text, size_t from) {
  std::vector<std::string> all;
  auto end = text.find('}', from);
  for (auto at = text.find('"', from); at != std::string::npos && at < end; at = text.find('"', at + 1)) {
    auto close = text.find('"', at + 1);
    if (close == std::string::npos || close > end) break;
    all.push_back(text.substr(at + 1, close - at - 1));
    at = close;
  }
  return all;
}

}  // namespace

Result<Ipv4Pool> Ipv4Pool::parse(const std::string& text) {
  auto slash = text.find('/');
  auto base = parse_dotted(text.substr(0, slash));
  int prefix = -1;
  if (slash != std::string::npos) {
    auto digits = text.substr(slash + 1);
    std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  }
  if (!base || prefix < 8 || prefix > 30)
    return Error::make(EINVAL, "'" + text + "' is not an IPv4 range from /8 to /30 (e.g. 10.201.0.0/16)");
  uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
  if ((*base & ~mask) != 0) return Error::make(EINVAL, "'" + text + "' has bits set past its prefix");
  return Ipv4Pool{*base, prefix};
}

std::string Ipv4Pool::to_string() const { return dotted(base) + "/" + std::to_string(prefix); }

SessionSubnet subnet_at(const Ipv4Pool& pool, uint32_t index) {
  uint32_t network = pool.base + index * 4;
  return {dotted(network + 1), dotted(network + 2), dotted(network)};
}

std::optional<uint32_t> subnet_index_of(const Ipv4Pool& pool, const std::string& address) {
  auto parsed = parse_dotted(address);
  if (!parsed || *parsed < pool.base) return std::nullopt;
  uint32_t index = (*parsed - pool.base) / 4;
  if (index >= pool.subnets()) return std::nullopt;
  return index;
}

// Out by any device but a session's: the policy is on addresses, as the
// relay's is. In, nothing opens a connection into a session, from another
// host or from this one: corrald reaches its sessions from inside their
// namespaces, never through their devices. (A session's own tries are
// judged, and counted, by the policy's rules before that one.)
std::string way_out_table(const WayOutTableSettings& s) {
  std::string sessions_prefix = std::string("\"") + kSessionDevicePrefix + "*\"";
  std::string allowed = s.allowed_ranges.empty() ? ""
                            : "    iifname @session_devices ip daddr { " + joined(s.allowed_ranges) +
                                  " } oifname != " + sessions_prefix + " accept comment \"--egress-allow\"\n";
  // `new` alone: the ICMP errors this host sends back for a refusal are
  // not new (related, or untracked), and must reach the session.
  std::string inward = "    oifname @session_devices ct state new reject with icmpx admin-prohibited comment "
                       "\"nothing opens a connection into a session\"\n";
  return "table inet " + s.table + " {\n" + counter_map_declarations() +
         "  chain input {\n"
         "    type filter hook input priority filter; policy accept;\n"
         "    iifname @session_devices fib daddr type local" + refused_as(EgressReason::local, "the host itself") +
         "  }\n"
         "  chain output {\n"
         "    type filter hook output priority filter; policy accept;\n" + inward +
         "  }\n"
         "  chain forward {\n"
         "    type filter hook forward priority filter; policy accept;\n"
         "    iifname @session_devices counter name iifname map @out_bytes\n"
         "    oifname @session_devices counter name oifname map @in_bytes\n"
         "    iifname @session_devices meta nfproto ipv6 reject with icmpx admin-prohibited comment "
         "\"no IPv6 way out yet\"\n" +
         allowed + refused_ipv4_rules() +
         "    iifname @session_devices oifname " + sessions_prefix +
         refused_as(EgressReason::private_range, "no session reaches another's device") + inward +
         uplink_guards(s.guarded_uplinks) +
         "  }\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ip saddr " + s.pool.to_string() + " oifname != " + sessions_prefix + " masquerade\n"
         "  }\n"
         "}\n";
}

std::string session_device(const std::string& session_id) { return kSessionDevicePrefix + session_id; }

// The set's element goes last in and first out: a device in the set always has its counters.
std::string session_device_added(const std::string& table, const std::string& device) {
  std::string in = " inet " + table + " ", text;
  for (const auto& [map, suffix] : counter_maps()) {
    auto counter = device + "_" + suffix;
    text += "add counter" + in + counter + "\nadd element" + in + map + " { \"" + device + "\" : \"" + counter + "\" }\n";
  }
  return text + "add element" + in + "session_devices { \"" + device + "\" }\n";
}

std::string session_device_removed(const std::string& table, const std::string& device) {
  std::string in = " inet " + table + " ";
  std::string text = "delete element" + in + "session_devices { \"" + device + "\" }\n";
  for (const auto& [map, suffix] : counter_maps())
    text += "delete element" + in + map + " { \"" + device + "\" }\ndelete counter" + in + device + "_" + suffix + "\n";
  return text;
}

std::string inside_loopback_guard() {
  return "table inet corral_session_loopback {\n"
         "  chain output {\n"
         "    type filter hook output priority filter; policy accept;\n"
         "    oifname \"lo\" meta skuid != 0 ct state new meta l4proto { tcp, udp } th dport != 53 reject\n"
         "  }\n"
         "}\n";
}

namespace {

std::optional<uint64_t> counter_field(const std::string& listing, const std::string& name, const char* field) {
  auto at = listing.find("counter " + name + " {");
  if (at == std::string::npos) return std::nullopt;
  auto found = listing.find(std::string(field) + " ", at);
  if (found == std::string::npos) return std::nullopt;
  uint64_t value = 0;
  auto digits = listing.data() + found + std::strlen(field) + 1;
  std::from_chars(digits, listing.data() + listing.size(), value);
  return value;
}

}  // namespace

std::optional<uint64_t> counter_bytes(const std::string& listing, const std::string& name) {
  return counter_field(listing, name, "bytes");
}

std::optional<uint64_t> counter_packets(const std::string& listing, const std::string& name) {
  return counter_field(listing, name, "packets");
}

DeviceCounts device_counts(const std::string& listing, const std::string& device) {
  DeviceCounts counts;
  counts.bytes_out = counter_bytes(listing, device + "_out").value_or(0);
  counts.bytes_in = counter_bytes(listing, device + "_in").value_or(0);
  for (const auto& counted : kCountedReasons)
    counts.refused.emplace_back(counted.reason, counter_packets(listing, device + "_" + counted.key).value_or(0));
  return counts;
}

std::vector<std::string> way_out_tables_in(const std::string& listing) {
  std::vector<std::string> tables;
  std::string marker = std::string("table inet ") + kWayOutTablePrefix;
  for (auto at = listing.find(marker); at != std::string::npos; at = listing.find(marker, at + 1)) {
    auto name_at = at + 11;
    auto end = listing.find_first_of(" \n", name_at);
    auto name = listing.substr(name_at, end == std::string::npos ? std::string::npos : end - name_at);
    if (name == kWayOutTablePrefix || name.starts_with(std::string(kWayOutTablePrefix) + "_")) tables.push_back(name);
  }
  return tables;
}

std::vector<std::string> guarded_uplinks_in(const std::string& listing) {
  std::vector<std::string> uplinks;
  std::string marker = std::string("drop comment \"") + kUplinkGuardComment + "\"";
  for (auto at = listing.find(marker); at != std::string::npos; at = listing.find(marker, at + 1)) {
    auto line = listing.rfind('\n', at);
    auto name_at = listing.find("iifname \"", line == std::string::npos ? 0 : line);
    if (name_at == std::string::npos || name_at > at) continue;
    auto quoted = quoted_until_brace(listing.substr(name_at, at - name_at), 0);
    if (!quoted.empty()) uplinks.push_back(quoted.front());
  }
  return uplinks;
}

std::vector<std::string> session_devices_in(const std::string& listing) {
  auto set = listing.find("set session_devices {");
  if (set == std::string::npos) return {};
  auto elements = listing.find("elements = {", set);
  auto set_end = listing.find("\t}", set);
  if (elements == std::string::npos || (set_end != std::string::npos && elements > set_end)) return {};
  return quoted_until_brace(listing, elements + 12);
}

}  // namespace corral
