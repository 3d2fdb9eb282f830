#include "corral/launch/session_user.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "corral/util/file_io.hpp"

namespace corral {
namespace fs = std::filesystem;

Result<SessionUser> lookup_session_user(const std::string& name) {
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(hint > 0 ? static_cast<size_t>(hint) : 4096);
  passwd entry{};
  passwd* found = nullptr;
  int error;
  while ((error = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE)
    buffer.resize(buffer.size() * 2);
  if (error != 0) return Error::from_errno(error, "look up session user '" + name + "'");
  if (!found)
    return Error::make(ENOENT, "session user '" + name + "' does not exist. Create it: `systemd-sysusers` "
                               "creates " + kDefaultSessionUser + " from corral's sysusers.d/corral.conf "
                               "(tools/setup runs it), or `useradd --system " + name + "`. Or start corrald "
                               "with --session-user root to run sessions as root, with Chrome's sandbox off "
                               "(see docs/operators.md)");
  return SessionUser{name, Credentials{entry.pw_uid, entry.pw_gid}};
}

Result<std::optional<SessionUser>> resolve_session_user(const std::string& requested, uid_t daemon_euid) {
  if (daemon_euid == 0) {
    auto user = lookup_session_user(requested.empty() ? kDefaultSessionUser : requested);
    if (!user) return user.error();
    return std::optional<SessionUser>(*user);
  }
  if (requested.empty()) return std::optional<SessionUser>();
  auto user = lookup_session_user(requested);
  if (!user) return user.error();
  if (user->credentials.uid == daemon_euid) return std::optional<SessionUser>();
  return Error::make(EPERM, "--session-user " + requested + ": only a root corrald can run sessions as another "
                            "user; this one runs as uid " + std::to_string(daemon_euid) +
                            ", and its sessions run as that user");
}

bool may_search(const Credentials& who, uid_t owner, gid_t group, mode_t mode) {
  if (who.uid == 0) return true;
  if (who.uid == owner) return mode & S_IXUSR;
  if (who.gid == group) return mode & S_IXGRP;
  return mode & S_IXOTH;
}

Result<void> check_reachable(const fs::path& dir, const SessionUser& who) {
  fs::path absolute = fs::absolute(dir).lexically_normal();
  fs::path walked;
  for (const auto& part : absolute) {
    walked /= part;
    struct stat st;
    if (::stat(walked.c_str(), &st) < 0) return Error::from_errno(errno, "stat '" + walked.string() + "'");
    if (!may_search(who.credentials, st.st_uid, st.st_gid, st.st_mode))
      return Error::make(EACCES, "the session user " + who.name + " (uid " + std::to_string(who.credentials.uid) +
                                     ") cannot reach " + dir.string() + ": '" + walked.string() + "' is mode " +
                                     octal_mode(st.st_mode) + " (uid " + std::to_string(st.st_uid) +
                                     "); give others search permission (chmod o+x, e.g. 0711) "
                                     "or pick another --state-dir");
  }
  return success();
}

}  // namespace corral
