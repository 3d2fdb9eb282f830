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

/// <state>/removed: session dirs moved out of the way, to be removed later.
/// The daemon's, mode 0700: nothing of a session can reach in.
std::filesystem::path removed_dir(const std::filesystem::path& state_dir);

/// Move session `id`'s dir into removed_dir in one rename(2), so that it is
/// gone from where the session had it at once, whatever its size; the slow
/// removal of the files can come later (remove_set_aside). Succeeds when
/// the session dir is gone already.
Result<void> set_aside_session_dir(const std::filesystem::path& state_dir, const std::string& id);

/// Remove everything in removed_dir.
Result<void> remove_set_aside(const std::filesystem::path& state_dir);

/// Create the state dir (if missing) and <state>/sessions with mode 0711, so
/// that a session user can pass through it to its own session's dirs but
/// cannot list the others.
Result<void> prepare_sessions_dir(const std::filesystem::path& state_dir);

}  // namespace corral
