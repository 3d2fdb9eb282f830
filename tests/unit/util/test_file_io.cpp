#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "corral/cgroup/paths.hpp"
#include "corral/util/file_io.hpp"

using namespace corral;
using testing::content_of;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;


bool mentions(const Error& error, const std::string& text) { return error.message.find(text) != std::string::npos; }

// read_file in a child that SIGALRM ends after 3 s: a read that blocks
// fails the test instead of hanging the suite. The child's exit status is
// the errno of the read (0: it read the file).
int read_in_child(const fs::path& path) {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::alarm(3);
    auto text = read_file(path);
    ::_exit(text ? 0 : text.error().code);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE_MESSAGE(WIFEXITED(status), "read_file blocked until SIGALRM (signal " << WTERMSIG(status) << ")");
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("read_file reads a regular file whole, up to its bound") {
  TempDir dir;
  auto file = dir.write("f", std::string(5000, 'x'));
  CHECK(read_file(file)->size() == 5000);
  CHECK(read_file(file, 5000)->size() == 5000);
  auto over = read_file(file, 4999);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == EFBIG);
  CHECK(mentions(over.error(), file.string()));
  CHECK(read_file(dir.write("empty", ""))->empty());

  struct stat info {};
  ::chmod(file.c_str(), 0640);
  REQUIRE(read_file(file, kMaxReadSize, &info).ok());
  CHECK((info.st_mode & 07777) == 0640);
  CHECK(info.st_size == 5000);
}

TEST_CASE("read_file refuses a FIFO at once, with or without a writer") {
  TempDir dir;
  auto fifo = dir.path / "DevToolsActivePort";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto started = std::chrono::steady_clock::now();
  // No writer: a blocking open(2) would wait for one.
  CHECK(read_in_child(fifo) == EBADFD);
  // A writer that never writes: a blocking read(2) would wait for data.
  int writer = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(writer >= 0);
  CHECK(read_in_child(fifo) == EBADFD);
  ::close(writer);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  auto refused = read_file(fifo);
  REQUIRE_FALSE(refused.ok());
  CHECK(mentions(refused.error(), "is a FIFO, not a regular file"));
}

TEST_CASE("read_file does not follow a symlink, even to a readable file") {
  TempDir dir;
  auto target = dir.write("secret", "4242\n/devtools/browser/x\n");
  fs::create_symlink(target, dir.path / "link");
  fs::create_directory_symlink(dir.path, dir.path / "dir-link");
  auto refused = read_file(dir.path / "link");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ELOOP);
  CHECK(mentions(refused.error(), "symbolic link"));
  CHECK(read_file(dir.path / "dir-link").error().code == ELOOP);
  // A symlink higher up the path is the caller's business, as with open(2).
  CHECK(*read_file(dir.path / "dir-link" / "secret") == "4242\n/devtools/browser/x\n");
}

TEST_CASE("read_file: a directory is EISDIR, a missing file ENOENT, a device EBADFD") {
  TempDir dir;
  CHECK(read_file(dir.path).error().code == EISDIR);
  CHECK(read_file(dir.path / "missing").error().code == ENOENT);
  CHECK(read_file("/dev/null").error().code == EBADFD);
}

TEST_CASE("read_file reads /proc and cgroupfs files, whose st_size says nothing") {
  auto stat = read_file("/proc/self/stat");
  REQUIRE(stat.ok());
  CHECK(stat->starts_with(std::to_string(::getpid()) + " ("));
  // procfs reports st_size 0: the bound holds on what is read.
  CHECK(read_file("/proc/self/stat", 10).error().code == EFBIG);

  auto mount = cgroup2_mount();
  REQUIRE(mount.ok());
  auto own = cgroup_of_process(::getpid());
  REQUIRE(own.ok());
  fs::path procs = *mount;
  procs += *own;
  auto pids = read_file(procs / "cgroup.procs");
  REQUIRE(pids.ok());
  CHECK(pids->find(std::to_string(::getpid()) + "\n") != std::string::npos);
  CHECK(read_file(*mount / "cgroup.controllers").ok());
}

TEST_CASE("write_file_atomic replaces the content with the mode asked for, and leaves no temporary") {
  TempDir dir;
  auto file = dir.write("state.json", "old, and longer than the new content");
  mode_t umask = ::umask(077);
  auto written = write_file_atomic(file, "new", 0640);
  ::umask(umask);
  REQUIRE(written.ok());
  CHECK(content_of(file) == "new");
  CHECK((fs::status(file).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  REQUIRE(write_file_atomic(dir.path / "fresh", "created", 0600).ok());
  CHECK(content_of(dir.path / "fresh") == "created");
}

TEST_CASE("write_file_atomic without fsync (a process crash's durability) replaces the content all the same") {
  TempDir dir;
  auto file = dir.write("sessions.json", "old records");
  REQUIRE(write_file_atomic(file, "new records", 0600, Durability::process_crash).ok());
  CHECK(content_of(file) == "new records");
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("write_file_atomic replaces a symlink instead of writing through it") {
  TempDir dir;
  auto outside = dir.write("outside", "keep");
  fs::create_symlink(outside, dir.path / "state.json");
  REQUIRE(write_file_atomic(dir.path / "state.json", "new", 0600).ok());
  CHECK(content_of(outside) == "keep");
  CHECK(fs::symlink_status(dir.path / "state.json").type() == fs::file_type::regular);
  CHECK(content_of(dir.path / "state.json") == "new");
}

TEST_CASE("write_file_atomic that fails leaves the old file and no temporary") {
  TempDir dir;
  fs::create_directory(dir.path / "taken");
  dir.write("taken/inside", "keep");
  auto failed = write_file_atomic(dir.path / "taken", "new", 0600);  // rename(2) onto a directory
  REQUIRE_FALSE(failed.ok());
  CHECK(mentions(failed.error(), "rename"));
  CHECK(content_of(dir.path / "taken/inside") == "keep");
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  CHECK(write_file_atomic(dir.path / "missing-dir" / "f", "x", 0600).error().code == ENOENT);
}

TEST_CASE("write_control_file writes once into an existing file and never through a symlink") {
  TempDir dir;
  auto file = dir.write("cgroup.kill", "");
  REQUIRE(write_control_file(file, "1").ok());
  CHECK(content_of(file) == "1");
  fs::create_symlink(file, dir.path / "link");
  CHECK(write_control_file(dir.path / "link", "2").error().code == ELOOP);
  CHECK(content_of(file) == "1");
  CHECK(write_control_file(dir.path / "missing", "1").error().code == ENOENT);  // never creates
}

TEST_CASE("read_file_tail gives the end of a file of any size, with read_file's refusals") {
  TempDir dir;
  std::string big(3 << 20, 'x');
  big += "the end";
  auto log = dir.write("browser.log", big);
  auto tail = read_file_tail(log, 7);
  REQUIRE(tail.ok());
  CHECK(*tail == "the end");
  CHECK(read_file_tail(dir.write("short", "abc"), 600).value() == "abc");
  fs::create_symlink(log, dir.path / "link");
  CHECK(read_file_tail(dir.path / "link", 10).error().code == ELOOP);
}
