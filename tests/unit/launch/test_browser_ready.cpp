#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "one_shot_server.hpp"
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
  auto ready = wait_for_devtools(SessionNetwork{}, profile, self.get(), seconds(10));
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

namespace {

// A DevToolsActivePort naming `server`'s port, as Chrome writes it.
void point_at(const fs::path& profile, const testing::OneShotServer& server) {
  std::ofstream(profile / "DevToolsActivePort") << server.port << "\n/devtools/browser/x\n";
}

std::string json_answer(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("DevTools is ready once /json/version answers, and names its websocket") {
  Profile profile;
  testing::OneShotServer server(json_answer(R"({"webSocketDebuggerUrl":"ws://127.0.0.1:1/devtools/browser/y"})"));
  point_at(profile.path, server);
  UniqueFd self(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  auto ready = wait_for_devtools(SessionNetwork{}, profile.path, self.get(), seconds(10));
  REQUIRE(ready.ok());
  CHECK(ready->devtools_http == "http://127.0.0.1:" + std::to_string(server.port));
  CHECK(ready->devtools_ws == "ws://127.0.0.1:1/devtools/browser/y");
  CHECK(server.received().starts_with("GET /json/version HTTP/1.1\r\n"));
}

TEST_CASE("an answer to /json/version beyond the bounds fails the start at once") {
  Profile profile;
  SUBCASE("JSON nested too deep") {
    testing::OneShotServer server(json_answer(std::string(100, '[') + std::string(100, ']')));
    point_at(profile.path, server);
    auto [error, took] = refusal(profile.path);
    CHECK(error.code == ECHILD);
    CHECK(error.message.find("JSON nested deeper") != std::string::npos);
    CHECK(took < seconds(2));
  }
  SUBCASE("an answer too large") {
    testing::OneShotServer server(json_answer("[" + std::string(2 << 20, ' ') + "]"));
    point_at(profile.path, server);
    auto [error, took] = refusal(profile.path);
    CHECK(error.code == ECHILD);
    CHECK(error.message.find("larger than") != std::string::npos);
    CHECK(took < seconds(2));
  }
}
