// Whether a session may be given an upstream proxy at all: the proxy's
// address is a destination like any other, and the egress policy judges
// it before the session opens (and again at every connect, where the
// relay resolves the proxy's name anew: egress_connection.cpp).
#pragma once

#include "corral/egress/egress_policy.hpp"
#include "corral/egress/upstream_proxy.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// Resolves the proxy's host now (blocking: call it off the I/O thread)
/// and judges every address: EBADMSG, naming the proxy redacted and the
/// policy's reason, when none is allowed or the name does not resolve.
Result<void> admit_upstream_proxy(const EgressPolicy& policy, const UpstreamProxy& proxy);

}  // namespace corral
