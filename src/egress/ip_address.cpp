#include "corral/egress/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace corral {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// True when the first `bits` bits of a and b are equal.
bool same_leading_bits(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

Result<uint8_t> parse_prefix(std::string_view digits, unsigned most, std::string_view text) {
  unsigned prefix = 0;
  auto [end, failure] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (digits.empty() || failure != std::errc() || end != digits.data() + digits.size() || prefix > most)
    return Error::make(EINVAL, "'" + std::string(text) + "': the prefix length after '/' must be a number from 0 to " +
                                   std::to_string(most) + " for this address family");
  return static_cast<uint8_t>(prefix);
}

// ::ffff:10.0.0.0/104 is 10.0.0.0/8: addresses are judged unmapped, so
// their ranges must be too.
Cidr judged_as_v4(Cidr range) {
  IpAddress v4 = range.network.unmapped();
  if (v4.is_v4() && !range.network.is_v4() && range.prefix >= 96)
    return Cidr{v4, static_cast<uint8_t>(range.prefix - 96)};
  return range;
}

}  // namespace

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress address;
  address.bytes = {a, b, c, d};
  return address;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  IpAddress address;
  address.family = Family::v6;
  address.bytes = bytes;
  return address;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string literal(text);
  IpAddress address;
  if (inet_pton(AF_INET, literal.c_str(), address.bytes.data()) == 1) return address;
  address.family = Family::v6;
  if (inet_pton(AF_INET6, literal.c_str(), address.bytes.data()) == 1) return address;
  return Error::make(EINVAL, "'" + literal + "' is not an IPv4 or IPv6 address (e.g. 10.0.0.0 or fd00::)");
}

IpAddress IpAddress::unmapped() const {
  if (is_v4() || !std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin())) return *this;
  return v4(bytes[12], bytes[13], bytes[14], bytes[15]);
}

bool IpAddress::is_unspecified() const {
  return std::all_of(bytes.begin(), bytes.begin() + size(), [](uint8_t b) { return b == 0; });
}

std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  CORRAL_TRY_ASSIGN(auto network, IpAddress::parse(text.substr(0, slash)));
  unsigned most = network.is_v4() ? 32 : 128;
  Cidr range{network, static_cast<uint8_t>(most)};
  if (slash != std::string_view::npos) {
    CORRAL_TRY_ASSIGN(range.prefix, parse_prefix(text.substr(slash + 1), most, text));
  }
  IpAddress masked = network;
  std::fill(masked.bytes.begin(), masked.bytes.end(), 0);
  for (unsigned bit = 0; bit < range.prefix; ++bit)
    masked.bytes[bit / 8] |= network.bytes[bit / 8] & static_cast<uint8_t>(0x80 >> (bit % 8));
  if (!(masked == network))
    return Error::make(EINVAL, "'" + std::string(text) + "' has address bits set past its /" +
                                   std::to_string(range.prefix) + " prefix: did you mean " + masked.to_string() + "/" +
                                   std::to_string(range.prefix) + "?");
  return judged_as_v4(range);
}

bool Cidr::contains(const IpAddress& address) const {
  IpAddress judged = address.unmapped();
  return judged.family == network.family && same_leading_bits(judged.bytes, network.bytes, prefix);
}

std::string Cidr::to_string() const {
  return network.to_string() + "/" + std::to_string(prefix);
}

}  // namespace corral
