// The console's static files (ui/ in the source tree, datadir/corral/ui
// once installed), read once when corrald starts and served from memory at
// /ui/. Only the directory's own regular files with plain names are taken:
// no subdirectory, no symlink, no name with a '/' or a leading '.', so no
// request path ("..", "%2e%2e", a link planted later) can name anything
// else on disk. Editing the files needs a restart of corrald.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "corral/util/error.hpp"

namespace corral {

struct UiFile {
  std::string content_type;
  std::string body;
};

class UiFiles {
 public:
  /// Read every servable file of `dir`. ENOENT when `dir` is missing; a
  /// file it cannot read is skipped (and logged).
  static Result<UiFiles> load(const std::filesystem::path& dir);

  /// The file named exactly `name` (no path), or nullptr.
  const UiFile* find(std::string_view name) const;
  size_t size() const { return m_files.size(); }

 private:
  std::map<std::string, UiFile, std::less<>> m_files;
};

/// True for a name the console may serve: [a-z0-9_-] and dots, not
/// starting with a dot, ending in an extension that has a content type.
bool is_servable_ui_name(std::string_view name);

}  // namespace corral
