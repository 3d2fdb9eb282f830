#include "corral/server/listen_address.hpp"

#include <arpa/inet.h>
#include <strings.h>

#include <charconv>

namespace corral {

namespace {

constexpr std::string_view kUnixPrefix = "unix:";

Result<ListenAddress> parse_unix(std::string_view path) {
  ListenAddress address;
  address.unix_path = std::string(path);
  if (!address.unix_path.is_absolute())
    return Error::make(EINVAL, "a unix socket needs an absolute path: unix:/run/corral/api.sock");
  if (path.size() > kMaxUnixSocketPath)
    return Error::make(EINVAL, "unix socket path is longer than " + std::to_string(kMaxUnixSocketPath) + " bytes");
  return address;
}

bool is_loopback_ip(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  // ::ffff:127.0.0.1 is the IPv4 loopback seen through an IPv6 socket.
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

}  // namespace

std::string ListenAddress::describe() const {
  if (is_unix()) return std::string(kUnixPrefix) + unix_path.string();
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  if (text.starts_with(kUnixPrefix)) return parse_unix(text.substr(kUnixPrefix.size()));
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return Error::make(EINVAL, "use HOST:PORT, [IPV6]:PORT or unix:/PATH");
  ListenAddress address;
  address.host = std::string(text.substr(0, colon));
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']')
    address.host = address.host.substr(1, address.host.size() - 2);
  auto digits = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, failure] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || failure != std::errc() || end != digits.data() + digits.size() || port > 65535)
    return Error::make(EINVAL, "port must be a number from 0 to 65535");
  address.port = static_cast<uint16_t>(port);
  return address;
}

bool is_local_only(const ListenAddress& address) {
  if (address.is_unix()) return true;
  return strcasecmp(address.host.c_str(), "localhost") == 0 || is_loopback_ip(address.host);
}

}  // namespace corral
