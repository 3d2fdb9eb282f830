#include "corral/net/in_network_namespace.hpp"

#include <sched.h>

#include <cerrno>
#include <thread>

namespace corral {

Result<void> in_network_namespace(int netns_fd, const std::function<Result<void>()>& work) {
  Result<void> outcome = success();
  std::thread inside([&] {
    if (::setns(netns_fd, CLONE_NEWNET) < 0) {
      outcome = Error::from_errno(errno, "enter the session's network namespace");
      return;
    }
    outcome = work();
  });
  inside.join();
  return outcome;
}

}  // namespace corral
