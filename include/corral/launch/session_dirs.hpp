// SessionDirs: the per-session directories under the daemon's state dir.
// The browser's profile, TMPDIR and HOME all live here, so that removing one
// directory removes everything a session wrote (Chrome's temp profiles and
// crashpad databases are the most common disk leak of Chrome bots).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "corral/util/error.hpp"
#include "corral/launch/gated_child.hpp"

namespace corral {

struct SessionDirs {
  std::filesystem::path base;     ///< <state>/sessions/<id>
  std::filesystem::path profile;  ///< --user-data-dir
  std::filesystem::path tmp;      ///< TMPDIR
  std::filesystem::path home;     ///< HOME (Chrome writes ~/.config, ~/.cache, ~/.pki)
  std::filesystem::path log() const { return base / "browser.log"; }

  /// Create all of them. The base (which holds browser.log) stays the
  /// daemon's, mode 0711: the session user may pass through it, not list or
  /// change it. profile, tmp and home are mode 0700 and owned by `owner`
  /// (unset: the daemon). EEXIST if the session dir exists.
  static Result<SessionDirs> create(const std::filesystem::path& state_dir, const std::string& id,
                                    const std::optional<Credentials>& owner);
  static SessionDirs at(const std::filesystem::path& state_dir, const std::string& id);
  /// Remove the whole session dir with remove_tree: what the session user
  /// planted there (symlinks, a directory swapped for one) is unlinked,
  /// never followed. Succeeds when it is already gone.
  Result<void> remove() const;
};

/// <state>/sessions
std::filesystem::path sessions_dir(const std::filesystem::path& state_dir);

/// Create the state dir (if missing) and <state>/sessions with mode 0711, so
/// that a session user can pass through it to its own session's dirs but
/// cannot list the others.
Result<void> prepare_sessions_dir(const std::filesystem::path& state_dir);

}  // namespace corral
