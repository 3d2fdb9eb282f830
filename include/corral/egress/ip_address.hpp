// IpAddress, IpEndpoint and Cidr: the addresses the egress policy judges,
// without Asio (the policy is plain logic; the relay converts). An IPv6
// address that maps an IPv4 one (::ffff:a.b.c.d) reaches that IPv4
// address, so the policy judges it as such (unmapped()).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "corral/util/error.hpp"

namespace corral {

struct IpAddress {
  enum class Family : uint8_t { v4, v6 };
  Family family = Family::v4;
  std::array<uint8_t, 16> bytes{};  ///< network order; IPv4 in the first 4

  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);
  /// A literal: "198.51.100.7", "2001:db8::1" (no brackets, no zone).
  static Result<IpAddress> parse(std::string_view text);

  bool is_v4() const { return family == Family::v4; }
  size_t size() const { return is_v4() ? 4 : 16; }
  /// The IPv4 address an IPv4-mapped IPv6 address stands for; else itself.
  IpAddress unmapped() const;
  /// 0.0.0.0 or ::.
  bool is_unspecified() const;
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

struct IpEndpoint {
  IpAddress address;
  uint16_t port = 0;
  bool operator==(const IpEndpoint&) const = default;
};

/// An address range: "10.0.0.0/8", "fc00::/7"; a bare address is the range
/// of that one address (/32, /128).
struct Cidr {
  IpAddress network;
  uint8_t prefix = 0;

  /// EINVAL, saying what to write instead, for anything that is not an
  /// address with an optional /N within its family's bits, or whose
  /// address has bits set past the prefix ("10.1.0.0/8": meant 10.0.0.0/8?).
  static Result<Cidr> parse(std::string_view text);
  /// Of the same family (an IPv4-mapped address counts as IPv4) and equal
  /// in the first `prefix` bits.
  bool contains(const IpAddress& address) const;
  std::string to_string() const;
};

}  // namespace corral
