#include "corral/egress/egress_names.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace corral {
namespace {

IpAddress address_of(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    auto* b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
    return IpAddress::v4(b[0], b[1], b[2], b[3]);
  }
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, 16);
  return IpAddress::v6(bytes);
}

Result<void> resolve_rules(std::vector<EgressRule>& rules, const NameResolver& resolver, bool tolerate,
                           std::vector<std::string>* problems) {
  for (auto& rule : rules) {
    if (!rule.is_name()) continue;
    auto found = resolver(rule.name);
    if (found) {
      rule.addresses = std::move(*found);
      continue;
    }
    std::string message = "egress entry '" + rule.to_string() + "': " + found.error().message;
    if (!tolerate) return Error::make(EHOSTUNREACH, message);
    if (problems) problems->push_back(message);
  }
  return success();
}

}  // namespace

Result<std::vector<IpAddress>> resolve_by_system(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int status = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (status != 0) return Error::make(EHOSTUNREACH, "'" + name + "' does not resolve: " + ::gai_strerror(status));
  std::vector<IpAddress> addresses;
  for (addrinfo* each = found; each; each = each->ai_next) {
    if (each->ai_family != AF_INET && each->ai_family != AF_INET6) continue;
    auto address = address_of(each->ai_addr).unmapped();
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) addresses.push_back(address);
  }
  ::freeaddrinfo(found);
  if (addresses.empty()) return Error::make(EHOSTUNREACH, "'" + name + "' has no IPv4 or IPv6 address");
  return addresses;
}

Result<void> resolve_names(EgressLists& lists, const NameResolver& resolver, bool tolerate,
                           std::vector<std::string>* problems) {
  CORRAL_TRY(resolve_rules(lists.allow, resolver, tolerate, problems));
  return resolve_rules(lists.deny, resolver, tolerate, problems);
}

}  // namespace corral
