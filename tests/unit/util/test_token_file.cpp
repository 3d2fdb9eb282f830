#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "corral/util/token_file.hpp"

using namespace corral;
namespace fs = std::filesystem;

namespace {

// A directory of the test's own under /tmp (see temp_dir.hpp).
struct TokenDir : testing::TempDir {
  TokenDir() : testing::TempDir("unit-token") {}
};

}  // namespace

TEST_CASE("read_token_file") {
  TokenDir dir;
  const std::string token = "0123456789abcdef0123";

  SUBCASE("trailing whitespace and newlines are not part of the token") {
    auto read = read_token_file(dir.write("t", token + " \r\n\n"));
    REQUIRE(read.ok());
    CHECK(read->token == token);
    CHECK_FALSE(read->group_can_read);
  }
  SUBCASE("group-readable is allowed and reported") {
    auto read = read_token_file(dir.write("t", token, 0640));
    REQUIRE(read.ok());
    CHECK(read->group_can_read);
  }
  SUBCASE("refused") {
    CHECK(read_token_file(dir.write("t", token, 0604)).error().code == EPERM);   // world-readable
    CHECK(read_token_file(dir.write("t", token, 0602)).error().code == EPERM);   // world-writable
    CHECK(read_token_file(dir.write("t", "", 0600)).error().code == EINVAL);     // empty
    CHECK(read_token_file(dir.write("t", "\n\n", 0600)).error().code == EINVAL);  // only whitespace
    auto short_token = read_token_file(dir.write("t", "0123456789abcde\n"));     // 15 characters
    CHECK(short_token.error().code == EINVAL);
    CHECK(short_token.error().message.find("at least 16") != std::string::npos);
    CHECK(read_token_file(dir.write("t", "0123456789 abcdef0123")).error().code == EINVAL);  // a space inside
    CHECK(read_token_file(dir.write("t", "0123456789\xc3\xa9" "abcdef0123")).error().code == EINVAL);
    CHECK(read_token_file(dir.write("t", std::string(5000, 'a'))).error().code == EINVAL);  // not a token file
    CHECK(read_token_file(dir.path / "missing").error().code == ENOENT);
    CHECK(read_token_file(dir.path).error().code == EINVAL);  // a directory
    REQUIRE(::mkfifo((dir.path / "fifo").c_str(), 0600) == 0);
    CHECK(read_token_file(dir.path / "fifo").error().code == EINVAL);  // refused, not waited on
    fs::create_symlink(dir.write("target", token), dir.path / "link");
    auto link = read_token_file(dir.path / "link");
    CHECK(link.error().code == ELOOP);
    CHECK(link.error().message.find("symbolic link") != std::string::npos);
  }
  SUBCASE("exactly the minimum length") {
    CHECK(read_token_file(dir.write("t", std::string(kMinTokenLength, 'x'))).ok());
  }
}
