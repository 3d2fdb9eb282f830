#include "corral/egress/egress_rule.hpp"

#include <algorithm>
#include <cctype>

namespace corral {
namespace {

constexpr const char* kForms =
    " (write ADDRESS[/PREFIX][:PORT[-PORT]] such as 10.0.0.0/8, 127.0.0.1:3000 or [fd00::/8]:443, "
    "or NAME[:PORT] such as db.example:5432)";

Error bad(std::string_view text, const std::string& why) {
  return Error::make(EINVAL, "egress entry '" + std::string(text) + "': " + why + kForms);
}

Result<uint16_t> parse_port(std::string_view digits, std::string_view whole) {
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), ::isdigit))
    return bad(whole, "'" + std::string(digits) + "' is not a port");
  unsigned value = std::stoul(std::string(digits));
  if (value < 1 || value > 65535) return bad(whole, "a port is 1 to 65535");
  return static_cast<uint16_t>(value);
}

Result<PortRange> parse_ports(std::string_view text, std::string_view whole) {
  auto dash = text.find('-');
  CORRAL_TRY_ASSIGN(uint16_t low, parse_port(text.substr(0, dash), whole));
  if (dash == std::string_view::npos) return PortRange{low, low};
  CORRAL_TRY_ASSIGN(uint16_t high, parse_port(text.substr(dash + 1), whole));
  if (high < low) return bad(whole, "a port range goes from low to high");
  return PortRange{low, high};
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// Only digits, dots and a slash: meant as an IPv4 range, so its error is
// the range's, not "not a name".
bool looks_numeric(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) || c == '.' || c == '/'; });
}

Result<EgressRule> host_rule(std::string_view host, std::string_view whole) {
  if (auto range = Cidr::parse(host)) return EgressRule(*range);
  else if (looks_numeric(host) || host.find('/') != std::string_view::npos || host.find(':') != std::string_view::npos)
    return bad(whole, range.error().message);
  if (!valid_name(host)) return bad(whole, "'" + std::string(host) + "' is neither an address nor a host name");
  EgressRule rule;
  rule.name = std::string(host);
  std::transform(rule.name.begin(), rule.name.end(), rule.name.begin(), ::tolower);
  return rule;
}

}  // namespace

std::string PortRange::suffix() const {
  if (every()) return "";
  if (low == high) return ":" + std::to_string(low);
  return ":" + std::to_string(low) + "-" + std::to_string(high);
}

bool EgressRule::matches(const IpEndpoint& target) const {
  if (!ports.contains(target.port)) return false;
  if (range) return range->contains(target.address);
  IpAddress judged = target.address.unmapped();
  return std::any_of(addresses.begin(), addresses.end(), [&](const IpAddress& a) { return a.unmapped() == judged; });
}

std::string EgressRule::to_string() const {
  if (!range) return name + ports.suffix();
  std::string text = range->to_string();
  if (!range->network.is_v4() && !ports.every()) text = "[" + text + "]";
  return text + ports.suffix();
}

std::string EgressRule::describe() const {
  if (range) return to_string();
  std::string resolved;
  for (const auto& address : addresses) resolved += (resolved.empty() ? "" : ", ") + address.to_string();
  return to_string() + " (" + (resolved.empty() ? "resolved to nothing" : resolved) + ")";
}

// "[v6range]:ports", "v6range" (two colons or more: no port), or
// "host:ports" / "host".
Result<EgressRule> parse_egress_rule(std::string_view text) {
  if (text.empty()) return bad(text, "it is empty");
  std::string_view host = text, ports;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad(text, "'[' without ']'");
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad(text, "after ']' comes ':PORT' or nothing");
    if (!rest.empty()) ports = rest.substr(1);
    if (!rest.empty() && ports.empty()) return bad(text, "':' without a port");
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    ports = text.substr(colon + 1);
    if (ports.empty()) return bad(text, "':' without a port");
  }
  CORRAL_TRY_ASSIGN(auto rule, host_rule(host, text));
  if (!ports.empty()) {
    CORRAL_TRY_ASSIGN(rule.ports, parse_ports(ports, text));
  }
  return rule;
}

bool EgressLists::has_names() const {
  auto named = [](const EgressRule& rule) { return rule.is_name(); };
  return std::any_of(allow.begin(), allow.end(), named) || std::any_of(deny.begin(), deny.end(), named);
}

bool overlaps(const Cidr& a, const Cidr& b) {
  return a.contains(b.network) || b.contains(a.network);
}

bool contains(const Cidr& outer, const Cidr& inner) {
  return outer.prefix <= inner.prefix && outer.contains(inner.network);
}

}  // namespace corral
