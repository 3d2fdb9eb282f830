// Work done inside a session's network namespace by corrald itself (setns,
// CAP_SYS_ADMIN): the sockets made there, netlink's too, stay the
// namespace's. Either a thread of its own enters, works and ends, or the
// calling thread visits and comes back to corrald's own namespace; a thread
// that cannot come back stops corrald, since it would make whatever it
// serves next inside a session (another session's relay, the host's rules).
#pragma once

#include <functional>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

/// corrald's own network namespace, opened from the main thread's
/// (/proc/self is the thread group's leader, which never enters a
/// session's): where every visiting thread returns.
const UniqueFd& own_network();

/// Runs `work` on a new thread inside the network namespace `netns_fd`, and waits for it.
Result<void> in_network_namespace(int netns_fd, const std::function<Result<void>()>& work);

/// Runs `work` on the calling thread inside `netns_fd`, then brings the
/// thread back to own_network(), or aborts corrald.
Result<void> visit_network_namespace(int netns_fd, const std::function<Result<void>()>& work);

}  // namespace corral
