// Is an address this host's own? Asked of the kernel, not of a list: an
// rtnetlink RTM_GETROUTE for the address, answered with a route of type
// RTN_LOCAL, which is what nftables' `fib daddr type local` matches. So
// 127.0.0.0/8, ::1, every address on any of the host's interfaces and
// whatever an operator added to the local table all come out local, as
// they are when they appear.
//
// The answer is the network namespace's of the calling thread: ask from
// the host's (the relay's threads never enter a session's namespace).
#pragma once

#include "corral/egress/ip_address.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// The kernel's answer. False for an address the kernel has no route to
/// (ENETUNREACH, EHOSTUNREACH: nothing here answers on it either); an
/// error when the question could not be asked or answered.
Result<bool> kernel_route_is_local(const IpAddress& address);

/// kernel_route_is_local, failing closed: an address the kernel could not
/// be asked about counts as local (refused unless allowed). The default
/// for EgressPolicy.
bool is_local_per_kernel(const IpAddress& address);

}  // namespace corral
