// The locks that keep a state dir and a sessions root to one corrald: flock
// belongs to the open file, so two opens in this one process conflict just
// as two corralds would.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "corral/util/file_lock.hpp"

using namespace corral;
using testing::content_of;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;


}  // namespace

TEST_CASE("a locked directory is refused to every other open until the lock's holder closes it") {
  TempDir dir;
  auto first = lock_directory(dir.path);
  REQUIRE(first.ok());
  auto second = lock_directory(dir.path);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == EBUSY);
  CHECK(second.error().message.find(dir.path.string()) != std::string::npos);
  first->reset();
  CHECK(lock_directory(dir.path).ok());
  CHECK(lock_directory(dir.path / "missing").error().code == ENOENT);
}

TEST_CASE("claim_file: an unnamed file is anyone's, a named one its owner's, a held one nobody else's") {
  TempDir dir;
  fs::path file = dir.path / "instance.lock";
  {
    auto claim = claim_file(file, "default");
    REQUIRE(claim.ok());
    CHECK(content_of(file).empty());  // named only once its owner says so
    CHECK(claim_file(file, "default").error().code == EBUSY);
    CHECK(claim_file(file, "x").error().code == EBUSY);
  }
  {
    auto claim = claim_file(file, "x");  // never named: x may have it
    REQUIRE(claim.ok());
    REQUIRE(write_owner(claim->get(), file, "x").ok());
    CHECK(content_of(file) == "x\n");
  }
  auto refused = claim_file(file, "default");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == EEXIST);
  CHECK(refused.error().message.find("belongs to 'x'") != std::string::npos);
  auto again = claim_file(file, "x");
  REQUIRE(again.ok());
  REQUIRE(write_owner(again->get(), file, "x").ok());
  CHECK(content_of(file) == "x\n");
}

TEST_CASE("claim_file follows no symlink and opens nothing but a regular file") {
  TempDir dir;
  fs::create_symlink(dir.path / "elsewhere", dir.path / "link");
  CHECK(claim_file(dir.path / "link", "default").error().code == ELOOP);
  CHECK_FALSE(fs::exists(dir.path / "elsewhere"));
  REQUIRE(::mkfifo((dir.path / "fifo").c_str(), 0600) == 0);
  CHECK(claim_file(dir.path / "fifo", "default").error().code == EBADFD);
  std::ofstream(dir.path / "odd") << "a\x01long name that is no instance";
  CHECK(claim_file(dir.path / "odd", "default").error().message.find("'a?long") != std::string::npos);
}
