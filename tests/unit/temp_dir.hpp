// TempDir: a fresh directory under /tmp for one test, removed with all in it
// at the end. Path-based on purpose: the tests never rely on the code under
// test (remove_tree, say) to clean up after them.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace corral::testing {

struct TempDir {
  std::filesystem::path path;  ///< mode 0700, as mkdtemp makes it

  explicit TempDir(const std::string& what = "unit") {
    std::string pattern = (std::filesystem::temp_directory_path() / ("corral-" + what + ".XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// A file `name` inside holding `content`, with permission bits `mode`.
  std::filesystem::path write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    auto file = path / name;
    std::ofstream(file) << content;
    ::chmod(file.c_str(), mode);
    return file;
  }
};

/// The whole content of a file, read plainly (not through corral's own readers).
inline std::string content_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace corral::testing
