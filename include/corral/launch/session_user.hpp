// SessionUser: the unprivileged user a root daemon runs its sessions as.
//
// Chrome's own sandbox (user, PID and network namespaces, seccomp) refuses to
// start as root, so a root daemon that ran browsers as root had to pass
// --no-sandbox, leaving the cgroup as the only boundary. Sessions run as a
// dedicated system user instead (corral-session, from units/sysusers.d), and
// Chrome sandboxes its renderers again. `--session-user root` is the explicit
// opt-out. A daemon that is not root runs sessions as itself.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "corral/util/error.hpp"
#include "corral/launch/gated_child.hpp"

namespace corral {

/// The user a root daemon runs sessions as when --session-user is not given.
inline constexpr const char* kDefaultSessionUser = "corral-session";

struct SessionUser {
  std::string name;
  Credentials credentials;  ///< the user's uid and primary group
  bool is_root() const { return credentials.uid == 0; }
};

/// The user `name` from the user database (getpwnam_r). ENOENT if there is
/// none; the message says how to create it, and that `--session-user root`
/// is the opt-out.
Result<SessionUser> lookup_session_user(const std::string& name);

/// Who sessions run as, from --session-user (`requested`, empty if not
/// given) and the daemon's effective uid. A root daemon: `requested`, or
/// kDefaultSessionUser, looked up. A daemon that is not root: nullopt (its
/// sessions run as itself); EPERM if `requested` names another user, which
/// only root could switch to.
Result<std::optional<SessionUser>> resolve_session_user(const std::string& requested, uid_t daemon_euid);

/// True if `who` (no supplementary groups) may search a directory with this
/// owner and mode. Ignores ACLs, as corral creates none.
bool may_search(const Credentials& who, uid_t owner, gid_t group, mode_t mode);

/// Every directory from / down to `dir` may be searched by `who`, so that
/// its browsers can reach their session dirs below `dir`. EACCES naming the
/// first one that may not, and what to change.
Result<void> check_reachable(const std::filesystem::path& dir, const SessionUser& who);

}  // namespace corral
