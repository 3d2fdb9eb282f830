#include <doctest/doctest.h>

#include <cerrno>
#include <filesystem>

#include "temp_dir.hpp"
#include "corral/util/open_directory.hpp"

using namespace corral;
namespace fs = std::filesystem;
using testing::TempDir;

TEST_CASE("open_directory_nofollow opens a directory by path, and refuses a symlink anywhere on the way") {
  TempDir dir;
  fs::create_directories(dir.path / "a/b");
  fs::create_directory_symlink(dir.path / "a", dir.path / "link");
  CHECK(open_directory_nofollow((dir.path / "a/b").string()).valid());
  CHECK_FALSE(open_directory_nofollow((dir.path / "link/b").string()).valid());
  CHECK((errno == ELOOP || errno == ENOTDIR));
  CHECK_FALSE(open_directory_nofollow((dir.path / "link").string()).valid());
  CHECK_FALSE(open_directory_nofollow("relative/path").valid());
  CHECK_FALSE(open_directory_nofollow((dir.path / "a/../a").string()).valid());
}
