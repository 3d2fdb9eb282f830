#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "corral/console/ui_files.hpp"

using namespace corral;

TEST_CASE("console files: only plain names with a known type are servable") {
  for (auto name : {"index.html", "app.js", "style.css", "icon.svg", "shot.png", "a_b-c.d.js"})
    CHECK_MESSAGE(is_servable_ui_name(name), name);
  for (auto name : {"", ".hidden.js", "..", "../app.js", "sub/app.js", "App.js", "app.js.bak", "app", "a..js",
                    "app.js\n", "index.html%00.js", "app.mjs", "/etc/passwd"})
    CHECK_MESSAGE(!is_servable_ui_name(name), name);
}

TEST_CASE("console files: a directory's own regular files, no symlink, no subdirectory") {
  auto dir = std::filesystem::temp_directory_path() / ("corral-ui-test." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "sub");
  std::ofstream(dir / "index.html") << "<!doctype html>";
  std::ofstream(dir / "sub" / "x.js") << "x";
  std::ofstream(dir / "notes.txt") << "not served";
  std::filesystem::create_symlink("/etc/passwd", dir / "passwd.js");
  auto files = UiFiles::load(dir);
  REQUIRE(files);
  CHECK(files->size() == 1);
  REQUIRE(files->find("index.html"));
  CHECK(files->find("index.html")->body == "<!doctype html>");
  CHECK(files->find("index.html")->content_type == "text/html; charset=utf-8");
  CHECK(!files->find("passwd.js"));
  CHECK(!files->find("sub/x.js"));
  CHECK(!files->find("notes.txt"));
  std::filesystem::remove_all(dir);
  CHECK(UiFiles::load(dir).error().code == ENOENT);
}
