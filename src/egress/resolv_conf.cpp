#include "corral/egress/resolv_conf.hpp"

#include <charconv>

namespace corral {
namespace {

// The line without its comment, split on blanks.
std::vector<std::string_view> words_of(std::string_view line) {
  if (auto comment = line.find_first_of("#;"); comment != std::string_view::npos) line = line.substr(0, comment);
  std::vector<std::string_view> words;
  size_t at = 0;
  while (at < line.size()) {
    auto start = line.find_first_not_of(" \t\r", at);
    if (start == std::string_view::npos) break;
    auto end = line.find_first_of(" \t\r", start);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(start, end - start));
    at = end;
  }
  return words;
}

std::string_view trimmed(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return line;
}

Result<uint16_t> parse_port(std::string_view text, std::string_view whole) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535)
    return Error::make(EINVAL, "'" + std::string(whole) + "': the port must be a number from 1 to 65535");
  return static_cast<uint16_t>(port);
}

Error not_a_resolver(std::string_view text) {
  return Error::make(EINVAL, "'" + std::string(text) +
                                 "' is not a resolver's address: write 10.255.255.53, 10.255.255.53:5353, "
                                 "2001:db8::53 or [2001:db8::53]:5353 (an address, not a name)");
}

}  // namespace

HostResolvConf parse_resolv_conf(std::string_view text) {
  HostResolvConf conf;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    auto words = words_of(line);
    if (words.empty()) continue;
    if (words[0] == "nameserver" && words.size() >= 2) {
      if (auto address = IpAddress::parse(words[1])) conf.nameservers.push_back({*address, kDnsPort});
    } else if (words[0] == "search" || words[0] == "domain" || words[0] == "options") {
      conf.kept_lines.emplace_back(trimmed(line));
    }
  }
  return conf;
}

std::string session_resolv_conf(const HostResolvConf& host) {
  std::string text = "# corral: this session's resolver is corrald's DNS forwarder (docs/network.md)\n"
                     "nameserver 127.0.0.1\n";
  for (const auto& line : host.kept_lines) text += line + "\n";
  return text;
}

Result<IpEndpoint> parse_dns_server(std::string_view text) {
  std::string_view address = text, port;
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return not_a_resolver(text);
    address = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return not_a_resolver(text);
    if (!rest.empty()) port = rest.substr(1);
    if (rest == ":") return not_a_resolver(text);
  } else if (auto colon = text.find(':'); colon != std::string_view::npos && text.find(':', colon + 1) == text.npos) {
    address = text.substr(0, colon);  // one colon: IPv4 with a port; more: a bare IPv6 address
    port = text.substr(colon + 1);
  }
  auto parsed = IpAddress::parse(address);
  if (!parsed || parsed->is_unspecified()) return not_a_resolver(text);
  IpEndpoint endpoint{*parsed, kDnsPort};
  if (text.ends_with(":")) return not_a_resolver(text);
  if (!port.empty()) {
    CORRAL_TRY_ASSIGN(endpoint.port, parse_port(port, text));
  }
  return endpoint;
}

std::string to_string(const IpEndpoint& endpoint) {
  if (endpoint.address.is_v4()) return endpoint.address.to_string() + ":" + std::to_string(endpoint.port);
  return "[" + endpoint.address.to_string() + "]:" + std::to_string(endpoint.port);
}

}  // namespace corral
