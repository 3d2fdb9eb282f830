#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "corral/launch/browser_ready.hpp"
#include "corral/util/unique_fd.hpp"

using namespace corral;
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

// A directory of the test's own under /tmp (see temp_dir.hpp).
struct Profile : testing::TempDir {
  Profile() : testing::TempDir("unit-profile") {}
};

// What wait_for_devtools says about a profile, with a "browser" (this
// process, through a pidfd) that never exits, and how long it took.
std::pair<Error, milliseconds> refusal(const fs::path& profile) {
  UniqueFd self(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  REQUIRE(self.valid());
  auto started = steady_clock::now();
  auto ready = wait_for_devtools(profile, self.get(), seconds(10));
  REQUIRE_FALSE(ready.ok());
  return {ready.error(), duration_cast<milliseconds>(steady_clock::now() - started)};
}

}  // namespace

TEST_CASE("a FIFO planted as DevToolsActivePort fails the start at once") {
  Profile profile;
  REQUIRE(::mkfifo((profile.path / "DevToolsActivePort").c_str(), 0600) == 0);
  auto [error, took] = refusal(profile.path);
  CHECK(error.code == ECHILD);
  CHECK(error.message.find("is a FIFO") != std::string::npos);
  CHECK(took < seconds(1));
}

TEST_CASE("a symlink planted as DevToolsActivePort is not followed, and fails the start") {
  Profile profile;
  std::ofstream(profile.path / "elsewhere") << "9222\n/devtools/browser/x\n";
  fs::create_symlink(profile.path / "elsewhere", profile.path / "DevToolsActivePort");
  auto [error, took] = refusal(profile.path);
  CHECK(error.code == ECHILD);
  CHECK(error.message.find("symbolic link") != std::string::npos);
  CHECK(took < seconds(1));
}
