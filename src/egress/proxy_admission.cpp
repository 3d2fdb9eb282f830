#include "corral/egress/proxy_admission.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <vector>

namespace corral {
namespace {

Result<std::vector<IpAddress>> addresses_of(const std::string& host) {
  if (auto literal = IpAddress::parse(host)) return std::vector<IpAddress>{*literal};
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int failed = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); failed != 0)
    return Error::make(EBADMSG, std::string("its host does not resolve: ") + ::gai_strerror(failed));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);
  std::vector<IpAddress> addresses;
  for (auto* entry = found; entry; entry = entry->ai_next) {
    if (entry->ai_family == AF_INET) {
      auto* v4 = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(entry->ai_addr)->sin_addr);
      addresses.push_back(IpAddress::v4(v4[0], v4[1], v4[2], v4[3]));
    } else if (entry->ai_family == AF_INET6) {
      std::array<uint8_t, 16> v6;
      std::memcpy(v6.data(), &reinterpret_cast<sockaddr_in6*>(entry->ai_addr)->sin6_addr, 16);
      addresses.push_back(IpAddress::v6(v6));
    }
  }
  return addresses;
}

}  // namespace

Result<void> admit_upstream_proxy(const EgressPolicy& policy, const UpstreamProxy& proxy) {
  auto addresses = addresses_of(proxy.host);
  if (!addresses) return Error::make(EBADMSG, "proxy " + proxy.redacted() + ": " + addresses.error().message);
  std::string refusal;
  for (const auto& address : *addresses) {
    auto decision = policy.decide({address, proxy.port});
    if (decision.allowed()) return success();
    if (refusal.empty())
      refusal = address.to_string() + ", which the egress policy refuses (" +
                std::string(egress_reason_name(decision.reason)) + ")";
  }
  if (refusal.empty()) return Error::make(EBADMSG, "proxy " + proxy.redacted() + ": its host has no address");
  return Error::make(EBADMSG, "proxy " + proxy.redacted() + " is at " + refusal);
}

}  // namespace corral
