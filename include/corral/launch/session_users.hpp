// Which users a corrald runs its sessions as, from its flags and whether it
// is root: a pool that gives each live session a uid of its own (the
// default for root: the system users corral-s00..corral-s15; or
// --session-uids), or one user every session shares (--session-user, or an
// unprivileged corrald, which has only its own uid to give).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "corral/launch/session_user.hpp"
#include "corral/launch/uid_pool.hpp"

namespace corral {

/// The default pool of a root corrald: system users that
/// units/sysusers.d/corral.conf declares.
std::vector<std::string> default_pool_users();

struct SessionUsers {
  SessionUidPool pool;
  std::optional<Credentials> shared;  ///< run_as when the pool shares one uid; unset: corrald's own user
  std::optional<SessionUser> example;  ///< a user sessions run as, to check the state dir is reachable
};

/// From --session-user (`user`, empty if not given), --session-uids
/// (`uids`, empty if not given) and the daemon's effective uid. Errors say
/// what to do: a missing pool user, a range that is not free (see
/// uid_range.hpp), both flags at once, or either flag without root.
/// `default_instance`: only the default instance may use the default pool;
/// another one with neither flag is refused (EINVAL), since two instances
/// with one pool would give one uid to two live sessions.
Result<SessionUsers> choose_session_users(const std::string& user, const std::string& uids, uid_t daemon_euid,
                                          bool default_instance);

}  // namespace corral
