#include "corral/net/in_network_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace corral {
namespace {

void return_home_or_abort() {
  if (::setns(own_network().get(), CLONE_NEWNET) == 0) return;
  spdlog::critical("a thread could not return to corrald's own network namespace ({}); stopping",
                   std::strerror(errno));
  spdlog::shutdown();
  std::abort();
}

}  // namespace

const UniqueFd& own_network() {
  static const UniqueFd fd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  return fd;
}

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

Result<void> visit_network_namespace(int netns_fd, const std::function<Result<void>()>& work) {
  if (!own_network().valid()) return Error::from_errno(EBADF, "open corrald's own /proc/self/ns/net");
  if (::setns(netns_fd, CLONE_NEWNET) < 0) return Error::from_errno(errno, "enter the session's network namespace");
  auto outcome = work();
  return_home_or_abort();
  return outcome;
}

}  // namespace corral
