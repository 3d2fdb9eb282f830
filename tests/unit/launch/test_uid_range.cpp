#include <doctest/doctest.h>

#include "corral/launch/uid_range.hpp"
#include "corral/launch/uid_sweep.hpp"

using namespace corral;

TEST_CASE("--session-uids is FIRST-LAST, not empty, without uid 0, bounded") {
  auto range = parse_uid_range("600000-600999");
  REQUIRE(range.ok());
  CHECK(range->size() == 1000);
  for (const char* bad : {"600000", "a-b", "-5", "600999-600000", "0-10", "600000-700001", "1-2-3", " 1-2"})
    CHECK_MESSAGE(parse_uid_range(bad).error().code == EINVAL, bad);
}

TEST_CASE("a range that meets anything the host uses is refused, naming it") {
  HostIds host;
  host.user_uids = {0, 1000, 400500};
  host.group_gids = {0, 1000, 410500};
  host.subids = parse_subid_ranges("alice:100000:65536\nbob:300000:65536\n");
  host.process_uids = {0, 1000, 420123};
  auto check = [&](uid_t first, uid_t last) { return check_uid_range({first, last}, host); };
  CHECK(check(400000, 400499).ok());
  CHECK(check(400000, 400999).error().message.find("400500, which has a passwd entry") != std::string::npos);
  CHECK(check(410000, 410999).error().message.find("gid 410500") != std::string::npos);
  CHECK(check(330000, 330010).error().message.find("/etc/subuid") != std::string::npos);
  CHECK(check(420000, 420999).error().message.find("running process") != std::string::npos);
  CHECK(check(61000, 61200).error().message.find("dynamic users") != std::string::npos);
  CHECK(check(524288, 524300).error().message.find("container range") != std::string::npos);
}

TEST_CASE("subuid lines: name:start:count, the rest ignored") {
  auto ranges = parse_subid_ranges("alice:100000:65536\n# comment\nbad line\nbob:x:1\ncarol:5:0\n");
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].first == 100000);
  CHECK(ranges[0].last == 165535);
}

TEST_CASE("System V IPC objects owned by a uid, by owner or by creator") {
  std::string shm =
      "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime\n"
      "         0          7   600               4096   100   100      0 600001 600001 600001 600001 0\n"
      "         0          8   600               4096   100   100      0  1000  1000 600001  1000 0\n"
      "         0          9   600               4096   100   100      0  1000  1000  1000  1000 0\n";
  CHECK(owned_ipc_ids(shm, 7, 600001) == std::vector<int>{7, 8});
  std::string sem = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
                    "  12345678         3   600          1 600001 600001 600001 600001 0 0\n";
  CHECK(owned_ipc_ids(sem, 4, 600001) == std::vector<int>{3});
  CHECK(owned_ipc_ids(sem, 4, 600002).empty());
}
