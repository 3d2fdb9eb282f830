#include "corral/launch/rtnetlink.hpp"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include <memory>
#include <optional>

namespace corral {
namespace {

template <class T, void (*Free)(T*)>
struct Release {
  void operator()(T* object) const { Free(object); }
};
using Socket = std::unique_ptr<nl_sock, Release<nl_sock, nl_socket_free>>;
using Link = std::unique_ptr<rtnl_link, Release<rtnl_link, rtnl_link_put>>;
using Address = std::unique_ptr<rtnl_addr, Release<rtnl_addr, rtnl_addr_put>>;
using Route = std::unique_ptr<rtnl_route, Release<rtnl_route, rtnl_route_put>>;
using NetlinkAddress = std::unique_ptr<nl_addr, Release<nl_addr, nl_addr_put>>;
using Cache = std::unique_ptr<nl_cache, Release<nl_cache, nl_cache_free>>;

// libnl's errors, as the errno the rest of corral tells by (EEXIST: the /30 is taken).
Error netlink_error(int code, const std::string& what) {
  int error = EIO;
  switch (-code) {
    case NLE_EXIST: error = EEXIST; break;
    case NLE_NODEV:
    case NLE_OBJ_NOTFOUND: error = ENODEV; break;
    case NLE_PERM: error = EPERM; break;
    case NLE_NOMEM: error = ENOMEM; break;
  }
  return Error::make(error, what + ": " + nl_geterror(code));
}

// Made in the calling thread's network namespace, which it keeps.
Result<Socket> route_socket() {
  Socket socket(nl_socket_alloc());
  if (!socket) return Error::make(ENOMEM, "rtnetlink: no socket");
  if (int code = nl_connect(socket.get(), NETLINK_ROUTE); code < 0) return netlink_error(code, "rtnetlink: connect");
  return socket;
}

Result<NetlinkAddress> parsed(const std::string& text) {
  nl_addr* address = nullptr;
  if (int code = nl_addr_parse(text.c_str(), AF_INET, &address); code < 0)
    return netlink_error(code, "address '" + text + "'");
  return NetlinkAddress(address);
}

Result<Link> kernel_link(nl_sock* socket, const std::string& device) {
  rtnl_link* link = nullptr;
  if (int code = rtnl_link_get_kernel(socket, 0, device.c_str(), &link); code < 0)
    return netlink_error(code, "link " + device);
  return Link(link);
}

Result<void> bring_up(nl_sock* socket, rtnl_link* link, const std::string& device) {
  Link change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int code = rtnl_link_change(socket, link, change.get(), 0); code < 0)
    return netlink_error(code, "set " + device + " up");
  return success();
}

Result<void> add_address(nl_sock* socket, int index, const std::string& cidr, unsigned flags,
                         const std::string& device) {
  CORRAL_TRY_ASSIGN(auto local, parsed(cidr));
  Address address(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(address.get(), index);
  rtnl_addr_set_family(address.get(), AF_INET);
  if (int code = rtnl_addr_set_local(address.get(), local.get()); code < 0) return netlink_error(code, cidr);
  rtnl_addr_set_prefixlen(address.get(), nl_addr_get_prefixlen(local.get()));
  if (flags) rtnl_addr_set_flags(address.get(), flags);
  if (int code = rtnl_addr_add(socket, address.get(), 0); code < 0)
    return netlink_error(code, "add " + cidr + " to " + device);
  return success();
}

struct RouteWanted {
  std::string destination;            ///< "10.201.0.4/30", "0.0.0.0/0"
  int index = 0;                      ///< its device
  std::optional<std::string> source;  ///< the address it is sent from
  std::optional<std::string> gateway;
};

// As `ip route add` makes it: the main table, unicast, protocol boot,
// link scope unless by a gateway, and refused if the destination has a
// route already (NLM_F_EXCL).
Result<void> add_route(nl_sock* socket, const RouteWanted& wanted) {
  Route route(rtnl_route_alloc());
  CORRAL_TRY_ASSIGN(auto destination, parsed(wanted.destination));
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_scope(route.get(), wanted.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  if (int code = rtnl_route_set_dst(route.get(), destination.get()); code < 0)
    return netlink_error(code, wanted.destination);
  if (wanted.source) {
    CORRAL_TRY_ASSIGN(auto source, parsed(*wanted.source));
    if (int code = rtnl_route_set_pref_src(route.get(), source.get()); code < 0)
      return netlink_error(code, *wanted.source);
  }
  NetlinkAddress gateway;
  if (wanted.gateway) {
    CORRAL_TRY_ASSIGN(auto parsed_gateway, parsed(*wanted.gateway));
    gateway = std::move(parsed_gateway);
  }
  rtnl_nexthop* hop = rtnl_route_nh_alloc();  // the route owns it from here
  rtnl_route_add_nexthop(route.get(), hop);
  rtnl_route_nh_set_ifindex(hop, wanted.index);
  if (gateway) rtnl_route_nh_set_gateway(hop, gateway.get());
  if (int code = rtnl_route_add(socket, route.get(), NLM_F_EXCL); code < 0)
    return netlink_error(code, "route " + wanted.destination);
  return success();
}

std::string name_of(int index) {
  char name[IF_NAMESIZE] = {};
  return ::if_indextoname(index, name) ? name : "";
}

}  // namespace

Result<void> make_veth_pair(const std::string& device, int peer_netns_fd, const SessionSubnet& subnet) {
  CORRAL_TRY_ASSIGN(auto socket, route_socket());
  Link pair(rtnl_link_veth_alloc());
  if (!pair) return Error::make(ENOMEM, "rtnetlink: no veth");
  rtnl_link_set_name(pair.get(), device.c_str());
  rtnl_link* peer = rtnl_link_veth_get_peer(pair.get());
  rtnl_link_set_name(peer, "eth0");
  rtnl_link_set_ns_fd(peer, peer_netns_fd);
  rtnl_link_put(peer);  // the reference get_peer took; the pair keeps its own
  if (int code = rtnl_link_add(socket.get(), pair.get(), NLM_F_CREATE | NLM_F_EXCL); code < 0)
    return netlink_error(code, "add veth " + device);
  CORRAL_TRY_ASSIGN(auto made, kernel_link(socket.get(), device));
  int index = rtnl_link_get_ifindex(made.get());
  CORRAL_TRY(add_address(socket.get(), index, subnet.host + "/30", IFA_F_NOPREFIXROUTE, device));
  CORRAL_TRY(bring_up(socket.get(), made.get(), device));
  return add_route(socket.get(), {subnet.network + "/30", index, subnet.host, std::nullopt});
}

Result<void> configure_inside_end(const SessionSubnet& subnet) {
  CORRAL_TRY_ASSIGN(auto socket, route_socket());
  CORRAL_TRY_ASSIGN(auto inside, kernel_link(socket.get(), "eth0"));
  int index = rtnl_link_get_ifindex(inside.get());
  CORRAL_TRY(add_address(socket.get(), index, subnet.inside + "/30", 0, "eth0"));
  CORRAL_TRY(bring_up(socket.get(), inside.get(), "eth0"));
  return add_route(socket.get(), {"0.0.0.0/0", index, std::nullopt, subnet.host});
}

Result<void> delete_link(const std::string& device) {
  CORRAL_TRY_ASSIGN(auto socket, route_socket());
  Link link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), device.c_str());
  int code = rtnl_link_delete(socket.get(), link.get());
  if (code < 0 && code != -NLE_NODEV && code != -NLE_OBJ_NOTFOUND) return netlink_error(code, "delete " + device);
  return success();
}

std::vector<std::string> default_route_devices() {
  std::vector<std::string> devices;
  auto socket = route_socket();
  nl_cache* listed = nullptr;
  if (!socket || rtnl_route_alloc_cache(socket->get(), AF_INET, 0, &listed) < 0) return devices;
  Cache routes(listed);
  for (auto* object = nl_cache_get_first(routes.get()); object; object = nl_cache_get_next(object)) {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN || rtnl_route_get_type(route) != RTN_UNICAST) continue;
    if (nl_addr_get_prefixlen(rtnl_route_get_dst(route)) != 0) continue;
    for (int n = 0; n < rtnl_route_get_nnexthops(route); ++n)
      if (auto name = name_of(rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, n))); !name.empty())
        devices.push_back(name);
  }
  return devices;
}

std::vector<std::pair<std::string, std::string>> ipv4_addresses() {
  std::vector<std::pair<std::string, std::string>> found;
  auto socket = route_socket();
  nl_cache* listed = nullptr;
  if (!socket || rtnl_addr_alloc_cache(socket->get(), &listed) < 0) return found;
  Cache addresses(listed);
  for (auto* object = nl_cache_get_first(addresses.get()); object; object = nl_cache_get_next(object)) {
    auto* address = reinterpret_cast<rtnl_addr*>(object);
    nl_addr* local = rtnl_addr_get_local(address);
    if (rtnl_addr_get_family(address) != AF_INET || !local || nl_addr_get_len(local) != 4) continue;
    char text[INET_ADDRSTRLEN] = {};
    if (!::inet_ntop(AF_INET, nl_addr_get_binary_addr(local), text, sizeof text)) continue;
    found.emplace_back(text, name_of(rtnl_addr_get_ifindex(address)));
  }
  return found;
}

}  // namespace corral
