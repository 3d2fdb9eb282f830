#include "corral/launch/session_dirs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "corral/util/remove_tree.hpp"

namespace corral {
namespace fs = std::filesystem;

fs::path sessions_dir(const fs::path& state_dir) { return state_dir / "sessions"; }

Result<void> prepare_sessions_dir(const fs::path& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return Error::from_errno(ec.value(), "create '" + state_dir.string() + "'");
  fs::path sessions = sessions_dir(state_dir);
  if (::mkdir(sessions.c_str(), 0711) < 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir '" + sessions.string() + "'");
  // Also for a dir an older corrald made (0755), and against the umask.
  if (::chmod(sessions.c_str(), 0711) < 0) return Error::from_errno(errno, "chmod '" + sessions.string() + "'");
  return success();
}

SessionDirs SessionDirs::at(const fs::path& state_dir, const std::string& id) {
  fs::path base = sessions_dir(state_dir) / id;
  return SessionDirs{base, base / "profile", base / "tmp", base / "home"};
}

namespace {

// mkdir, then chmod against the umask, then hand it to the session user. The
// base is new and the daemon's, so nobody else can swap `dir` in between.
Result<void> make_dir(const fs::path& dir, mode_t mode, const std::optional<Credentials>& owner) {
  if (::mkdir(dir.c_str(), mode) < 0) return Error::from_errno(errno, "mkdir '" + dir.string() + "'");
  if (::chmod(dir.c_str(), mode) < 0) return Error::from_errno(errno, "chmod '" + dir.string() + "'");
  if (owner && ::lchown(dir.c_str(), owner->uid, owner->gid) < 0)
    return Error::from_errno(errno, "chown '" + dir.string() + "' to the session user");
  return success();
}

Result<void> populate(const SessionDirs& dirs, const std::optional<Credentials>& owner) {
  if (::chmod(dirs.base.c_str(), 0711) < 0) return Error::from_errno(errno, "chmod '" + dirs.base.string() + "'");
  for (const auto& dir : {dirs.profile, dirs.tmp, dirs.home}) CORRAL_TRY(make_dir(dir, 0700, owner));
  return success();
}

}  // namespace

Result<SessionDirs> SessionDirs::create(const fs::path& state_dir, const std::string& id,
                                        const std::optional<Credentials>& owner) {
  CORRAL_TRY(prepare_sessions_dir(state_dir));  // cheap, and someone may have removed it by hand
  SessionDirs dirs = at(state_dir, id);
  if (::mkdir(dirs.base.c_str(), 0711) < 0) return Error::from_errno(errno, "mkdir '" + dirs.base.string() + "'");
  auto populated = populate(dirs, owner);
  if (!populated) {
    (void)dirs.remove();
    return populated.error();
  }
  return dirs;
}

Result<void> SessionDirs::remove() const { return remove_tree(base); }

fs::path removed_dir(const fs::path& state_dir) { return state_dir / "removed"; }

Result<void> set_aside_session_dir(const fs::path& state_dir, const std::string& id) {
  fs::path removed = removed_dir(state_dir);
  if (::mkdir(removed.c_str(), 0700) < 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir '" + removed.string() + "'");
  fs::path from = sessions_dir(state_dir) / id, to = removed / id;
  if (::rename(from.c_str(), to.c_str()) == 0 || errno == ENOENT) return success();
  // A dir of that name from a removal that never finished (a crash): this
  // one waits for it, and the rename is tried once more.
  if (errno != EEXIST && errno != ENOTEMPTY) return Error::from_errno(errno, "rename '" + from.string() + "'");
  CORRAL_TRY(remove_tree(to));
  if (::rename(from.c_str(), to.c_str()) < 0) return Error::from_errno(errno, "rename '" + from.string() + "'");
  return success();
}

// The children only: the dir itself stays for the next set_aside, which
// may run at the same time.
Result<void> remove_set_aside(const fs::path& state_dir) {
  std::error_code ec;
  Result<void> result = success();
  for (const auto& entry : fs::directory_iterator(removed_dir(state_dir), ec)) {
    auto removed = remove_tree(entry.path());
    if (!removed && result) result = removed;
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    return Error::from_errno(ec.value(), "list '" + removed_dir(state_dir).string() + "'");
  return result;
}

}  // namespace corral
