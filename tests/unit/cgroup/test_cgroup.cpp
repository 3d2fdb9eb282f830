#include <doctest/doctest.h>

#include "corral/launch/browser_ready.hpp"
#include "corral/cgroup/cgroup.hpp"
#include "corral/cgroup/paths.hpp"

using namespace corral;

TEST_CASE("find_cgroup2_mount on a hybrid host") {
  const char* mountinfo =
      "30 23 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw\n"
      "32 30 0:28 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n";
  CHECK(find_cgroup2_mount(mountinfo)->string() == "/sys/fs/cgroup/unified");
}

TEST_CASE("find_cgroup2_mount on a unified host, and with none") {
  CHECK(find_cgroup2_mount("25 1 0:22 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n")
            ->string() == "/sys/fs/cgroup");
  auto missing = find_cgroup2_mount("22 1 0:21 / /proc rw - proc proc rw\n");
  CHECK(missing.error().code == ENOENT);
}

TEST_CASE("find_unified_cgroup picks the 0:: line") {
  CHECK(*find_unified_cgroup("4:memory:/x\n1:cpu:/\n0::/corral/corral-abc\n") == "/corral/corral-abc");
  CHECK_FALSE(find_unified_cgroup("4:memory:/x\n").ok());
}

TEST_CASE("find_keyed_value reads cgroup.events and memory.events") {
  CHECK(find_keyed_value("populated 1\nfrozen 0\n", "populated") == 1);
  CHECK(find_keyed_value("low 0\nhigh 3\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n", "oom_kill") == 2);
  CHECK_FALSE(find_keyed_value("populated 1\n", "frozen").has_value());
}

TEST_CASE("parse_devtools_active_port") {
  auto parsed = parse_devtools_active_port("40123\n/devtools/browser/5a2c\n");
  REQUIRE(parsed.has_value());
  CHECK(parsed->first == 40123);
  CHECK(parsed->second == "/devtools/browser/5a2c");
  CHECK_FALSE(parse_devtools_active_port("40123\n").has_value());  // half written
  CHECK_FALSE(parse_devtools_active_port("0\n/x\n").has_value());
  CHECK_FALSE(parse_devtools_active_port("junk").has_value());
}
