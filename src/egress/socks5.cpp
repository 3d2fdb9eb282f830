#include "corral/egress/socks5.hpp"

#include <algorithm>
#include <cstring>

namespace corral::socks5 {
namespace {

constexpr uint8_t kIPv4 = 0x01, kDomainName = 0x03, kIPv6 = 0x04;
constexpr size_t kRequestHead = 4;  // VER CMD RSV ATYP

// The address and port after the request's head, once all have arrived.
void read_destination(std::span<const uint8_t> bytes, uint8_t type, Request& request) {
  size_t at = kRequestHead;
  if (type == kDomainName) {
    size_t length = bytes[at++];
    request.name.assign(reinterpret_cast<const char*>(bytes.data() + at), length);
    at += length;
  } else if (type == kIPv4) {
    request.address = IpAddress::v4(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
    at += 4;
  } else {
    std::array<uint8_t, 16> v6{};
    std::copy_n(bytes.begin() + static_cast<long>(at), 16, v6.begin());
    request.address = IpAddress::v6(v6);
    at += 16;
  }
  request.port = static_cast<uint16_t>(bytes[at] << 8 | bytes[at + 1]);
  request.length = at + 2;
  request.state = Parse::complete;
}

}  // namespace

Greeting parse_greeting(std::span<const uint8_t> bytes) {
  Greeting greeting;
  if (!bytes.empty() && bytes[0] != kVersion) greeting.state = Parse::malformed;
  if (bytes.size() < 2 || greeting.state == Parse::malformed) return greeting;
  size_t methods = bytes[1];
  if (methods == 0) greeting.state = Parse::malformed;
  if (bytes.size() < 2 + methods || greeting.state == Parse::malformed) return greeting;
  auto offered = bytes.subspan(2, methods);
  greeting.offers_no_authentication = std::find(offered.begin(), offered.end(), kNoAuthentication) != offered.end();
  greeting.length = 2 + methods;
  greeting.state = Parse::complete;
  return greeting;
}

Request parse_request(std::span<const uint8_t> bytes) {
  Request request;
  if (!bytes.empty() && bytes[0] != kVersion) request.state = Parse::malformed;
  if (bytes.size() < kRequestHead || request.state == Parse::malformed) return request;
  request.command = bytes[1];
  uint8_t type = bytes[3];
  size_t needed = 0;
  if (type == kIPv4) needed = kRequestHead + 4 + 2;
  else if (type == kIPv6) needed = kRequestHead + 16 + 2;
  else if (type != kDomainName) request.state = Parse::unknown_address_type;
  else if (bytes.size() > kRequestHead) needed = kRequestHead + 1 + bytes[kRequestHead] + 2;
  else return request;
  if (type == kDomainName && needed == kRequestHead + 3) request.state = Parse::malformed;  // an empty name
  if (request.state != Parse::incomplete || bytes.size() < needed) return request;
  read_destination(bytes, type, request);
  return request;
}

std::array<uint8_t, 2> method_choice(bool no_authentication_offered) {
  return {kVersion, no_authentication_offered ? kNoAuthentication : kNoAcceptableMethod};
}

std::array<uint8_t, 10> reply(Reply code) {
  return {kVersion, static_cast<uint8_t>(code), 0, kIPv4, 0, 0, 0, 0, 0, 0};
}

}  // namespace corral::socks5
