// The launch gate when its parent dies before the release: the child must
// see the gate's end and exit, never wait for ever outside any scope. A CI
// run left such a child behind (a root process in the root cgroup, reading
// its gate) after the daemon that forked it was killed.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "corral/launch/gated_child.hpp"

using namespace corral;

namespace {

// In a child of the test: spawn a gated /bin/true, say its pid, and die
// without releasing it, as a killed corrald would.
[[noreturn]] void spawn_and_die(int report) {
  LaunchSpec spec;
  spec.argv = {"/bin/true"};
  spec.working_directory = "/";
  spec.log_file = "/dev/null";
  auto child = GatedChild::spawn(spec);
  pid_t pid = child ? child->pid() : -1;
  (void)!::write(report, &pid, sizeof pid);
  _exit(0);  // no destructors: the gate is neither released nor closed on purpose
}

}  // namespace

TEST_CASE("a gated child whose parent dies before the release exits at once") {
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t middle = ::fork();
  REQUIRE(middle >= 0);
  if (middle == 0) spawn_and_die(report[1]);
  ::close(report[1]);
  pid_t gated = -1;
  REQUIRE(::read(report[0], &gated, sizeof gated) == sizeof gated);
  ::close(report[0]);
  ::waitpid(middle, nullptr, 0);
  REQUIRE(gated > 0);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, gated, 0));
  if (pidfd < 0) return;  // already gone and reaped: it exited
  pollfd exited{pidfd, POLLIN, 0};
  int ready = ::poll(&exited, 1, 5000);
  if (ready == 0) ::kill(gated, SIGKILL);  // do not leave it behind either way
  ::close(pidfd);
  CHECK(ready == 1);
}
