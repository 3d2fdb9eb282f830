#include "corral/egress/local_address.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "corral/util/unique_fd.hpp"

namespace corral {
namespace {

// RTM_GETROUTE for one destination, as `ip route get ADDRESS` asks it.
struct RouteQuery {
  nlmsghdr header;
  rtmsg route;
  rtattr destination;
  uint8_t bytes[16];
};

RouteQuery route_query(const IpAddress& address) {
  RouteQuery query{};
  size_t size = address.size();
  query.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg) + RTA_LENGTH(size));
  query.header.nlmsg_type = RTM_GETROUTE;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.header.nlmsg_seq = 1;
  query.route.rtm_family = address.is_v4() ? AF_INET : AF_INET6;
  query.route.rtm_dst_len = static_cast<unsigned char>(size * 8);
  query.destination.rta_type = RTA_DST;
  query.destination.rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
  std::memcpy(query.bytes, address.bytes.data(), size);
  return query;
}

// The kernel's one answer: a route (its type), or an error.
Result<bool> read_route_answer(int netlink) {
  alignas(nlmsghdr) char buffer[8192];
  ssize_t n = ::recv(netlink, buffer, sizeof buffer, 0);
  if (n < 0) return Error::from_errno(errno, "rtnetlink answer to RTM_GETROUTE");
  int left = static_cast<int>(n);
  for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
    if (header->nlmsg_type == NLMSG_ERROR && header->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
      int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error;
      if (error == ENETUNREACH || error == EHOSTUNREACH) return false;
      return Error::from_errno(error, "rtnetlink RTM_GETROUTE");
    }
    if (header->nlmsg_type == RTM_NEWROUTE && header->nlmsg_len >= NLMSG_LENGTH(sizeof(rtmsg)))
      return static_cast<const rtmsg*>(NLMSG_DATA(header))->rtm_type == RTN_LOCAL;
  }
  return Error::make(EIO, "rtnetlink RTM_GETROUTE: no route in the answer");
}

}  // namespace

Result<bool> kernel_route_is_local(const IpAddress& address) {
  UniqueFd netlink(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!netlink.valid()) return Error::from_errno(errno, "rtnetlink socket");
  timeval patience{1, 0};  // the kernel answers at once; never hang a connection on it
  ::setsockopt(netlink.get(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  RouteQuery query = route_query(address);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(netlink.get(), &query, query.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return Error::from_errno(errno, "rtnetlink RTM_GETROUTE for " + address.to_string());
  return read_route_answer(netlink.get());
}

bool is_local_per_kernel(const IpAddress& address) {
  auto local = kernel_route_is_local(address.unmapped());
  return !local || *local;
}

}  // namespace corral
