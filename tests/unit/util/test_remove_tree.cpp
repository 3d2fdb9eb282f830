#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "temp_dir.hpp"
#include "corral/util/remove_tree.hpp"

using namespace corral;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;


void write(const fs::path& file, const std::string& content) { std::ofstream(file) << content; }

// What a browser leaves: nested dirs, files, a FIFO, and symlinks that
// dangle, point inside, and point outside.
void populate(const fs::path& tree, const fs::path& outside) {
  fs::create_directories(tree / "profile/Default/Cache/Cache_Data");
  fs::create_directories(tree / "home/.config/chromium");
  write(tree / "profile/Default/Cache/Cache_Data/index", "data");
  write(tree / "profile/Local State", "{}");
  REQUIRE(::mkfifo((tree / "profile/fifo").c_str(), 0600) == 0);
  fs::create_symlink("/nonexistent", tree / "profile/dangling");
  fs::create_symlink(tree / "profile/Local State", tree / "profile/inside");
  fs::create_directory_symlink(outside, tree / "home/.cache");
  fs::create_symlink(outside / "keep", tree / "home/keep-link");
}

void make_outside(const fs::path& outside) {
  fs::create_directories(outside / "sub");
  write(outside / "keep", "keep");
  write(outside / "sub/keep", "keep");
  write(outside / "index", "same name as a file in the tree");
}

void check_outside_intact(const fs::path& outside) {
  CHECK(fs::exists(outside / "keep"));
  CHECK(fs::exists(outside / "sub/keep"));
  CHECK(fs::exists(outside / "index"));
}

}  // namespace

TEST_CASE("remove_tree removes nested dirs, files, FIFOs and symlinks, and follows none") {
  TempDir dir;
  make_outside(dir.path / "outside");
  populate(dir.path / "session", dir.path / "outside");
  REQUIRE(remove_tree(dir.path / "session").ok());
  CHECK_FALSE(fs::exists(fs::symlink_status(dir.path / "session")));
  check_outside_intact(dir.path / "outside");
}

TEST_CASE("remove_tree unlinks a symlink to an outside directory, wherever it is") {
  TempDir dir;
  make_outside(dir.path / "outside");
  SUBCASE("inside the tree") {
    fs::create_directory(dir.path / "session");
    fs::create_directory_symlink(dir.path / "outside", dir.path / "session/profile");
    REQUIRE(remove_tree(dir.path / "session").ok());
  }
  SUBCASE("as the tree itself") {
    fs::create_directory_symlink(dir.path / "outside", dir.path / "session");
    REQUIRE(remove_tree(dir.path / "session").ok());
  }
  CHECK_FALSE(fs::exists(fs::symlink_status(dir.path / "session")));
  check_outside_intact(dir.path / "outside");
}

TEST_CASE("remove_tree succeeds when the tree, or its parent, is already gone") {
  TempDir dir;
  CHECK(remove_tree(dir.path / "missing").ok());
  CHECK(remove_tree(dir.path / "missing/too").ok());
  fs::create_directories(dir.path / "trailing/slash");
  CHECK(remove_tree((dir.path / "trailing").string() + "/").ok());
  CHECK_FALSE(fs::exists(dir.path / "trailing"));
  CHECK(remove_tree("/").error().code == EINVAL);
}

TEST_CASE("remove_tree stops at its depth bound, with an error, and removes the rest") {
  TempDir dir;
  fs::path deep = dir.path / "tree";
  for (size_t level = 0; level <= kMaxRemoveDepth + 1; ++level) deep /= "d";
  fs::create_directories(deep);
  fs::create_directories(dir.path / "tree/shallow");
  auto removed = remove_tree(dir.path / "tree");
  REQUIRE_FALSE(removed.ok());
  CHECK(removed.error().code == ELOOP);
  CHECK(removed.error().message.find("nested more than") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "tree/shallow"));
}

// The race a path-based removal loses: readdir says "directory", then the
// name is a symlink to outside when it is opened. A naive lstat-then-opendir
// remover fails this test within a few rounds on this kind of machine.
TEST_CASE("remove_tree never removes outside while a racer swaps directories for symlinks") {
  TempDir dir;
  fs::path outside = dir.path / "outside", tree = dir.path / "tree", parked = dir.path / "parked";
  make_outside(outside);
  constexpr int kVictims = 32;
  for (int round = 0; round < 40; ++round) {
    fs::create_directory(parked);
    for (int v = 0; v < kVictims; ++v) {
      fs::path victim = tree / ("v" + std::to_string(v));
      fs::create_directories(victim / "sub");
      for (const char* name : {"keep", "index", "sub/keep"}) write(victim / name, "tree");
    }
    std::atomic<bool> stop = false;
    std::atomic<int> swaps = 0;
    // Moves a directory away, puts a symlink to `outside` in its place for
    // a moment, and moves it back; until remove_tree is done, and bounded.
    std::thread racer([&] {
      for (int i = 0; i < 200000 && !stop; ++i) {
        fs::path victim = tree / ("v" + std::to_string(i % kVictims)), away = parked / std::to_string(i);
        if (::rename(victim.c_str(), away.c_str()) != 0) continue;
        (void)::symlink(outside.c_str(), victim.c_str());
        ++swaps;
        for (auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(5);
             std::chrono::steady_clock::now() < until;) {}
        ::unlink(victim.c_str());
        ::rename(away.c_str(), victim.c_str());
      }
    });
    while (swaps == 0) std::this_thread::yield();
    (void)remove_tree(tree);  // may fail while raced; it must only never reach outside
    stop = true;
    racer.join();
    check_outside_intact(outside);
    REQUIRE(remove_tree(tree).ok());  // unraced, it removes what is left
    CHECK_FALSE(fs::exists(fs::symlink_status(tree)));
    REQUIRE(remove_tree(parked).ok());
  }
}

TEST_CASE("remove_tree leaves a mount point below the tree, and what is mounted there") {
  TempDir dir;
  fs::create_directories(dir.path / "tree/mnt");
  write(dir.path / "tree/file", "x");
  // In a child with a mount namespace of its own: the tmpfs goes away with it.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", (dir.path / "tree/mnt").c_str(), "tmpfs", 0, "size=1m") != 0)
      ::_exit(77);
    write(dir.path / "tree/mnt/mounted", "keep");
    auto removed = remove_tree(dir.path / "tree");
    bool kept = fs::exists(dir.path / "tree/mnt/mounted") && !fs::exists(dir.path / "tree/file");
    ::_exit(!removed.ok() && removed.error().code == EXDEV && kept ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    MESSAGE("skipped: no mount namespace here (not root?)");
    return;
  }
  CHECK(WEXITSTATUS(status) == 0);
}

// A session sweeping as its own uid meets a directory it made with mode 000
// (issue 19): as that uid, not as root, whom no mode stops.
TEST_CASE("remove_tree_at gives an owner's own mode-000 directories back their rights, only when asked") {
  TempDir dir;
  fs::create_directories(dir.path / "trap/inner");
  write(dir.path / "trap/inner/file", "secret");
  constexpr uid_t kNobody = 65534;
  for (const char* path : {"", "trap", "trap/inner", "trap/inner/file"})
    REQUIRE(::chown((dir.path / path).c_str(), kNobody, kNobody) == 0);
  REQUIRE(::chmod((dir.path / "trap/inner").c_str(), 0) == 0);
  REQUIRE(::chmod((dir.path / "trap").c_str(), 0) == 0);
  auto remove_as_nobody = [&](RemoveTreeOptions options) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      if (::setresgid(kNobody, kNobody, kNobody) != 0 || ::setresuid(kNobody, kNobody, kNobody) != 0) ::_exit(77);
      int parent = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY);
      ::_exit(remove_tree_at(parent, "trap", dir.path / "trap", options).ok() ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 77);
    return WEXITSTATUS(status) == 0;
  };
  CHECK_FALSE(remove_as_nobody({}));
  CHECK(fs::exists(dir.path / "trap"));
  CHECK(remove_as_nobody({.restore_owner_rights = true}));
  CHECK_FALSE(fs::exists(fs::symlink_status(dir.path / "trap")));
}
