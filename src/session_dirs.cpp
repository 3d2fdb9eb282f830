#include "corral/session_dirs.hpp"

#include <sys/stat.h>

namespace corral {
namespace fs = std::filesystem;

fs::path sessions_dir(const fs::path& state_dir) { return state_dir / "sessions"; }

SessionDirs SessionDirs::at(const fs::path& state_dir, const std::string& id) {
  fs::path base = sessions_dir(state_dir) / id;
  return SessionDirs{base, base / "profile", base / "tmp", base / "home"};
}

Result<SessionDirs> SessionDirs::create(const fs::path& state_dir, const std::string& id) {
  std::error_code ec;
  fs::create_directories(sessions_dir(state_dir), ec);
  if (ec) return Error::from_errno(ec.value(), "create '" + sessions_dir(state_dir).string() + "'");
  SessionDirs dirs = at(state_dir, id);
  if (::mkdir(dirs.base.c_str(), 0700) < 0) return Error::from_errno(errno, "mkdir '" + dirs.base.string() + "'");
  for (const auto& dir : {dirs.profile, dirs.tmp, dirs.home}) {
    if (::mkdir(dir.c_str(), 0700) < 0) {
      int error = errno;
      (void)dirs.remove();
      return Error::from_errno(error, "mkdir '" + dir.string() + "'");
    }
  }
  return dirs;
}

Result<void> SessionDirs::remove() const {
  std::error_code ec;
  fs::remove_all(base, ec);
  if (ec) return Error::from_errno(ec.value(), "remove '" + base.string() + "'");
  return success();
}

}  // namespace corral
