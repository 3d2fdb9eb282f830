// SessionDirs: the per-session directories under the daemon's state dir.
// The browser's profile, TMPDIR and HOME all live here, so that removing one
// directory removes everything a session wrote (Chrome's temp profiles and
// crashpad databases are the peers' most common disk leak).
#pragma once

#include <filesystem>
#include <string>

#include "corral/error.hpp"

namespace corral {

struct SessionDirs {
  std::filesystem::path base;     ///< <state>/sessions/<id>
  std::filesystem::path profile;  ///< --user-data-dir
  std::filesystem::path tmp;      ///< TMPDIR
  std::filesystem::path home;     ///< HOME (Chrome writes ~/.config, ~/.cache, ~/.pki)
  std::filesystem::path log() const { return base / "browser.log"; }

  /// Create all of them (mode 0700). EEXIST if the session dir exists.
  static Result<SessionDirs> create(const std::filesystem::path& state_dir, const std::string& id);
  static SessionDirs at(const std::filesystem::path& state_dir, const std::string& id);
  /// Remove the whole session dir. Succeeds when it is already gone.
  Result<void> remove() const;
};

/// <state>/sessions
std::filesystem::path sessions_dir(const std::filesystem::path& state_dir);

}  // namespace corral
