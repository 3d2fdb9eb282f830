// check_listener_in_cgroup against the real kernel: a child process in a
// cgroup of the test's own listens; the check finds it there and not in
// an empty sibling cgroup.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "corral/proxy/session_port.hpp"
#include "loopback_listener.hpp"
#include "corral/cgroup/paths.hpp"

using namespace corral;

namespace {

struct TwoCgroups {
  std::filesystem::path holder, empty;
  pid_t child = -1;

  ~TwoCgroups() {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    std::error_code ignored;
    for (const auto& path : {holder, empty}) std::filesystem::remove(path, ignored);
  }
};

}  // namespace

TEST_CASE("a listener is found in the cgroup of the process that holds it, and only there") {
  auto mount = cgroup2_mount();
  if (!mount || ::access(mount->c_str(), W_OK) != 0) {
    MESSAGE("skipped: needs a writable cgroup2 mount (root); the DevTools proxy tests cover it end to end");
    return;
  }
  TwoCgroups groups;
  auto base = *mount / ("corral-unit-listener-" + std::to_string(::getpid()));
  groups.holder = base.string() + "-holder";
  groups.empty = base.string() + "-empty";
  REQUIRE(std::filesystem::create_directory(groups.holder));
  REQUIRE(std::filesystem::create_directory(groups.empty));
  uint16_t port = 0;
  int listener = testing::listen_on_loopback(port, 1).release();
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  groups.child = ::fork();
  if (groups.child == 0) {
    std::ofstream(groups.holder / "cgroup.procs") << ::getpid() << std::flush;
    char done = 1;
    (void)!::write(ready[1], &done, 1);
    ::pause();
    ::_exit(0);
  }
  char done;
  REQUIRE(::read(ready[0], &done, 1) == 1);
  ::close(listener);  // now only the child holds it
  CHECK(check_listener_in_cgroup(port, Cgroup(groups.holder)).ok());
  auto outside = check_listener_in_cgroup(port, Cgroup(groups.empty));
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().code == EPERM);
  ::kill(groups.child, SIGKILL);
  ::waitpid(groups.child, nullptr, 0);
  groups.child = -1;
  auto nobody = check_listener_in_cgroup(port, Cgroup(groups.holder));
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().code == ECONNREFUSED);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_CASE("a port held by the session's own uid is the session's; any other uid's is not") {
  uint16_t port = 0;
  int listener = testing::listen_on_loopback(port, 1).release();
  Cgroup unused("/nonexistent");
  CHECK(check_session_port(port, unused, ::geteuid()).ok());
  auto other = check_session_port(port, unused, ::geteuid() + 4242);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == EPERM);
  ::close(listener);
  CHECK(check_session_port(port, unused, ::geteuid()).error().code == ECONNREFUSED);
}
