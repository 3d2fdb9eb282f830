#include "corral/launch/kernel_way_out_rules.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "corral/egress/egress_policy.hpp"

namespace corral {
namespace {

// The default policy's IPv4 ranges (egress_policy.hpp, one list for both
// ways out); the host's own addresses are refused by `fib daddr type local`.
std::string refused_ipv4() {
  std::string set;
  for (const auto& range : default_refused_ranges())
    if (range.network.is_v4()) set += (set.empty() ? "" : ", ") + range.to_string();
  return set;
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

std::string quoted_set(const std::vector<std::string>& names) {
  std::string set = "{ ";
  for (size_t i = 0; i < names.size(); ++i) set += (i ? ", \"" : "\"") + names[i] + "\"";
  return set + " }";
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// Where corral turned an uplink's forwarding on, the host must not start
// routing for others: what comes in there is forwarded only as an answer
// to a session.
std::string uplink_guards(const std::vector<std::string>& guarded) {
  if (guarded.empty()) return "";
  auto set = quoted_set(guarded);
  return "    iifname " + set + " oifname \"cw*\" ct state established,related accept\n"
         "    iifname " + set + " drop comment \"forwarding is on here for the sessions' answers alone\"\n";
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
  return {dotted(network + 1), dotted(network + 2)};
}

std::optional<uint32_t> subnet_index_of(const Ipv4Pool& pool, const std::string& address) {
  auto parsed = parse_dotted(address);
  if (!parsed || *parsed < pool.base) return std::nullopt;
  uint32_t index = (*parsed - pool.base) / 4;
  if (index >= pool.subnets()) return std::nullopt;
  return index;
}

std::string way_out_table(const WayOutTableSettings& s) {
  auto uplinks = quoted_set(s.uplinks);
  std::string allowed = s.allowed_ranges.empty() ? ""
                            : "    iifname \"cw*\" ip daddr { " + joined(s.allowed_ranges) + " } oifname " + uplinks +
                                  " accept comment \"--egress-allow\"\n";
  return std::string("table inet ") + kWayOutTable + " {\n"
         "  map out_bytes { type ifname : counter; }\n"
         "  map in_bytes { type ifname : counter; }\n"
         "  chain input {\n"
         "    type filter hook input priority filter; policy accept;\n"
         "    iifname \"cw*\" fib daddr type local reject with icmpx admin-prohibited comment \"the host itself\"\n"
         "  }\n"
         "  chain forward {\n"
         "    type filter hook forward priority filter; policy accept;\n"
         "    iifname \"cw*\" counter name iifname map @out_bytes\n"
         "    oifname \"cw*\" counter name oifname map @in_bytes\n"
         "    iifname \"cw*\" meta nfproto ipv6 reject with icmpx admin-prohibited comment \"no IPv6 way out yet\"\n" +
         allowed +
         "    iifname \"cw*\" ip daddr { " + refused_ipv4() + " } reject with icmpx admin-prohibited comment "
         "\"the default policy's ranges\"\n"
         "    iifname \"cw*\" oifname != " + uplinks + " reject with icmpx admin-prohibited comment \"uplinks only\"\n" +
         uplink_guards(s.guarded_uplinks) +
         "  }\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ip saddr " + s.pool.to_string() + " oifname " + uplinks + " masquerade\n"
         "  }\n"
         "}\n";
}

std::string session_device(const std::string& session_id) { return kSessionDevicePrefix + session_id; }

std::string session_counters_added(const std::string& device) {
  std::string table = std::string(" inet ") + kWayOutTable + " ";
  return "add counter" + table + device + "_out\n" + "add counter" + table + device + "_in\n" +
         "add element" + table + "out_bytes { \"" + device + "\" : \"" + device + "_out\" }\n" +
         "add element" + table + "in_bytes { \"" + device + "\" : \"" + device + "_in\" }\n";
}

std::string session_counters_removed(const std::string& device) {
  std::string table = std::string(" inet ") + kWayOutTable + " ";
  return "delete element" + table + "out_bytes { \"" + device + "\" }\n" + "delete element" + table +
         "in_bytes { \"" + device + "\" }\n" + "delete counter" + table + device + "_out\n" + "delete counter" +
         table + device + "_in\n";
}

std::string host_end_batch(const std::string& device, int pid, const SessionSubnet& subnet) {
  return "link add " + device + " type veth peer name eth0 netns " + std::to_string(pid) + "\n" + "addr add " +
         subnet.host + "/30 dev " + device + "\n" + "link set " + device + " up\n";
}

std::string inside_end_batch(const SessionSubnet& subnet) {
  return "addr add " + subnet.inside + "/30 dev eth0\nlink set eth0 up\nroute add default via " + subnet.host + "\n";
}

std::string inside_loopback_guard() {
  return "table inet corral_session_loopback {\n"
         "  chain output {\n"
         "    type filter hook output priority filter; policy accept;\n"
         "    oifname \"lo\" meta skuid != 0 ct state new meta l4proto { tcp, udp } th dport != 53 reject\n"
         "  }\n"
         "}\n";
}

std::optional<uint64_t> counter_bytes(const std::string& listing, const std::string& name) {
  auto at = listing.find("counter " + name + " {");
  if (at == std::string::npos) return std::nullopt;
  auto bytes = listing.find("bytes ", at);
  if (bytes == std::string::npos) return std::nullopt;
  uint64_t value = 0;
  auto digits = listing.data() + bytes + 6;
  std::from_chars(digits, listing.data() + listing.size(), value);
  return value;
}

}  // namespace corral
