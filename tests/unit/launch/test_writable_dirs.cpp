#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <filesystem>

#include "temp_dir.hpp"
#include "corral/launch/sweep_retries.hpp"
#include "corral/launch/writable_dirs.hpp"

using namespace corral;
namespace fs = std::filesystem;
using testing::TempDir;

namespace {
bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}
}  // namespace

TEST_CASE("only writable, real filesystems are walked for world-writable directories") {
  const char* mountinfo =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "23 22 0:5 / /proc rw,nosuid - proc proc rw\n"
      "24 22 0:6 / /sys rw - sysfs sysfs rw\n"
      "25 24 0:7 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
      "26 22 0:8 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw\n"
      "27 22 0:9 / /dev/pts rw - devpts devpts rw,mode=600\n"
      "28 22 0:10 / /run/lock rw,nosuid - tmpfs tmpfs rw,size=5120k\n"
      "29 22 8:2 / /usr ro,relatime - ext4 /dev/sda2 rw\n"
      "30 22 8:3 / /srv rw - ext4 /dev/sda3 ro\n"
      "31 22 0:11 / /mnt/with\\040space rw - tmpfs tmpfs rw\n"
      "32 22 0:12 / /dev/mqueue rw - mqueue mqueue rw\n"
      "33 28 0:13 / /run/lock rw - tmpfs tmpfs rw\n";
  auto mounts = writable_mount_points(mountinfo);
  CHECK(mounts == std::vector<std::string>{"/", "/dev/shm", "/run/lock", "/mnt/with space"});
}

TEST_CASE("discovery finds world-writable directories, shallow first, and stops at its bounds") {
  TempDir dir;
  fs::create_directories(dir.path / "a/x11");
  fs::create_directories(dir.path / "b/c/d/deep");
  fs::create_directories(dir.path / "owned/inside");
  for (const char* path : {"a/x11", "b/c/d/deep", "owned/inside"}) ::chmod((dir.path / path).c_str(), 01777);
  ::chmod(dir.path.c_str(), 01777);
  ::chown((dir.path / "owned").c_str(), 600001, 600001);
  fs::create_directory_symlink(dir.path / "a/x11", dir.path / "link");
  auto skip = [](uid_t owner) { return owner == 600001; };
  auto found = discover_writable_dirs({dir.path.string()}, {}, skip);
  CHECK(found.incomplete.empty());
  CHECK(found.dirs.front() == dir.path.string());
  CHECK(has(found.dirs, (dir.path / "a/x11").string()));
  CHECK(has(found.dirs, (dir.path / "b/c/d/deep").string()));
  CHECK_FALSE(has(found.dirs, (dir.path / "owned/inside").string()));  // a session's own: its sweep removes it
  CHECK_FALSE(has(found.dirs, (dir.path / "link").string()));

  auto shallow = discover_writable_dirs({dir.path.string()}, {.max_depth = 2}, skip);
  CHECK(has(shallow.dirs, (dir.path / "a/x11").string()));
  CHECK_FALSE(has(shallow.dirs, (dir.path / "b/c/d/deep").string()));
  auto few = discover_writable_dirs({dir.path.string()}, {.max_directories = 2}, skip);
  CHECK(few.incomplete == "stopped after 2 directories");
}

TEST_CASE("a failed sweep is retried after 1 s, 2 s, 4 s ... and never more than 5 min apart") {
  BackOff back_off;
  CHECK(back_off.after(1) == std::chrono::seconds(1));
  CHECK(back_off.after(2) == std::chrono::seconds(2));
  CHECK(back_off.after(4) == std::chrono::seconds(8));
  CHECK(back_off.after(30) == std::chrono::minutes(5));
  CHECK(back_off.after(1000) == std::chrono::minutes(5));
}

TEST_CASE("a retried sweep runs until it succeeds, and then the uid is no longer waiting") {
  std::atomic<int> attempts = 0;
  SweepRetries retries(
      [&](uid_t) -> Result<void> {
        if (++attempts < 3) return Error::make(ENOTEMPTY, "still there");
        return success();
      },
      {std::chrono::milliseconds(1), std::chrono::milliseconds(5)});
  retries.failed(600001, "a file stayed");
  CHECK(retries.status().at(600001).why == "a file stayed");
  for (int i = 0; i < 2000 && !retries.status().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(retries.status().empty());
  CHECK(attempts == 3);
}
