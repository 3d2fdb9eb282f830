// The kernel way out's links, addresses and routes, asked of the kernel
// over rtnetlink from corrald's own process (libnl-route-3), as `ip` would
// ask them, without a fork and an exec on every session's open
// (nftables.hpp says what those cost). Each call works in the calling
// thread's network namespace (in_network_namespace.hpp for a session's).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "corral/launch/kernel_way_out_rules.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// The pair: `device` here, with `subnet.host`/30 and no prefix route, up,
/// and the /30's route through it from that address (`ip route add NET/30
/// dev DEVICE src HOST`); its peer "eth0" in the namespace `peer_netns_fd`,
/// down. EEXIST: the /30's route is there already (another corrald's).
Result<void> make_veth_pair(const std::string& device, int peer_netns_fd, const SessionSubnet& subnet);

/// In the session's namespace: eth0 gets `subnet.inside`/30 and goes up, and
/// the default route leads to `subnet.host`.
Result<void> configure_inside_end(const SessionSubnet& subnet);

/// Deletes `device` (a veth's peer goes with it); one that is gone is no error.
Result<void> delete_link(const std::string& device);

/// The devices of the main table's default IPv4 routes: where the world is.
std::vector<std::string> default_route_devices();

/// Every IPv4 address here and its device's name.
std::vector<std::pair<std::string, std::string>> ipv4_addresses();

}  // namespace corral
