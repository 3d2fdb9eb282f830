// Work done inside a session's network namespace by corrald itself: a
// thread of its own enters the namespace (setns, CAP_SYS_ADMIN), makes its
// sockets there (netlink's too), does the work and ends, so no thread of
// corrald's ever stays inside.
#pragma once

#include <functional>

#include "corral/util/error.hpp"

namespace corral {

/// Runs `work` on a new thread inside the network namespace `netns_fd`, and waits for it.
Result<void> in_network_namespace(int netns_fd, const std::function<Result<void>()>& work);

}  // namespace corral
