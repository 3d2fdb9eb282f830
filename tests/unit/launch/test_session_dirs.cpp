#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "corral/launch/session_dirs.hpp"

using namespace corral;
namespace fs = std::filesystem;

namespace {

// A directory of the test's own under /tmp (see temp_dir.hpp).
struct StateDir : testing::TempDir {
  StateDir() : testing::TempDir("unit-dirs") {}
};

}  // namespace

TEST_CASE("a session dir set aside is gone from its place at once and removed later") {
  StateDir state;
  auto dirs = SessionDirs::create(state.path, "0123456789ab", std::nullopt);
  REQUIRE(dirs.ok());
  std::ofstream(dirs->profile / "Cookies") << "secret";
  REQUIRE(set_aside_session_dir(state.path, "0123456789ab").ok());
  CHECK_FALSE(fs::exists(dirs->base));
  CHECK(fs::exists(removed_dir(state.path) / "0123456789ab" / "profile" / "Cookies"));
  struct stat info {};
  REQUIRE(::stat(removed_dir(state.path).c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0700);  // nothing of a session reaches in
  REQUIRE(remove_set_aside(state.path).ok());
  CHECK(fs::is_empty(removed_dir(state.path)));
}

TEST_CASE("setting aside a dir that is gone succeeds; one left by a crash is replaced") {
  StateDir state;
  CHECK(set_aside_session_dir(state.path, "0123456789ab").ok());
  fs::create_directories(removed_dir(state.path) / "0123456789ab" / "old");
  REQUIRE(SessionDirs::create(state.path, "0123456789ab", std::nullopt).ok());
  REQUIRE(set_aside_session_dir(state.path, "0123456789ab").ok());
  CHECK_FALSE(fs::exists(removed_dir(state.path) / "0123456789ab" / "old"));
  CHECK(fs::exists(removed_dir(state.path) / "0123456789ab" / "profile"));
  CHECK(remove_set_aside(state.path).ok());
}
