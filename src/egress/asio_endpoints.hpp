// Conversions between Asio's endpoints and errors and the policy's and
// SOCKS5's (ip_address.hpp, socks5.hpp), which know no Asio. Private to
// src/egress.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "corral/egress/ip_address.hpp"
#include "corral/egress/socks5.hpp"

namespace corral {

inline boost::asio::ip::tcp::endpoint asio_endpoint(const IpEndpoint& target) {
  const auto& bytes = target.address.bytes;
  if (target.address.is_v4())
    return {boost::asio::ip::address_v4({bytes[0], bytes[1], bytes[2], bytes[3]}), target.port};
  boost::asio::ip::address_v6::bytes_type v6;
  std::copy(bytes.begin(), bytes.end(), v6.begin());
  return {boost::asio::ip::address_v6(v6), target.port};
}

inline IpEndpoint corral_endpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    return {IpAddress::v4(b[0], b[1], b[2], b[3]), endpoint.port()};
  }
  auto b = address.to_v6().to_bytes();
  std::array<uint8_t, 16> v6;
  std::copy(b.begin(), b.end(), v6.begin());
  return {IpAddress::v6(v6), endpoint.port()};
}

// What the page is told when no allowed address answered.
inline socks5::Reply reply_for(boost::system::error_code ec) {
  namespace error = boost::asio::error;
  if (ec == error::connection_refused) return socks5::Reply::connection_refused;
  if (ec == error::network_unreachable) return socks5::Reply::network_unreachable;
  if (ec == error::host_unreachable || ec == error::timed_out) return socks5::Reply::host_unreachable;
  return socks5::Reply::general_failure;
}

}  // namespace corral
