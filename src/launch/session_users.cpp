#include "corral/launch/session_users.hpp"

#include <unistd.h>

#include <cstdio>

#include "corral/launch/uid_range.hpp"

namespace corral {
namespace {

constexpr int kDefaultPoolSize = 16;

Result<SessionUsers> shared_users(const std::string& user, uid_t daemon_euid) {
  CORRAL_TRY_ASSIGN(auto resolved, resolve_session_user(user, daemon_euid));
  if (!resolved) {
    Credentials self{daemon_euid, ::getegid()};
    return SessionUsers{SessionUidPool::shared(self, "corrald is not root: every session runs as its uid " +
                                                         std::to_string(daemon_euid)),
                        std::nullopt, std::nullopt};
  }
  std::string why = resolved->is_root() ? "--session-user root: sessions run as root, Chrome's sandbox is off"
                                        : "--session-user " + resolved->name + ": every session runs as it";
  return SessionUsers{SessionUidPool::shared(resolved->credentials, why), resolved->credentials, resolved};
}

Result<SessionUsers> range_users(const std::string& uids) {
  CORRAL_TRY_ASSIGN(auto range, parse_uid_range(uids));
  CORRAL_TRY(check_uid_range(range, read_host_ids()));
  std::vector<Credentials> members;
  for (uid_t uid = range.first;; ++uid) {
    members.push_back({uid, static_cast<gid_t>(uid)});
    if (uid == range.last) break;
  }
  SessionUser example{"uid " + std::to_string(range.first), members.front()};
  return SessionUsers{SessionUidPool::of(std::move(members), "uids " + uids), std::nullopt, example};
}

Result<SessionUsers> named_pool_users() {
  std::vector<Credentials> members;
  std::optional<SessionUser> example;
  auto names = default_pool_users();
  for (const auto& name : names) {
    auto user = lookup_session_user(name);
    if (!user)
      return Error::make(ENOENT, "the session user " + name + " does not exist: create the pool with "
                                 "`systemd-sysusers` (units/sysusers.d/corral.conf, which meson install puts in "
                                 "sysusers.d), or give --session-uids FIRST-LAST, or --session-user NAME to run "
                                 "every session as one user");
    members.push_back(user->credentials);
    if (!example) example = *user;
  }
  return SessionUsers{SessionUidPool::of(std::move(members), "users " + names.front() + ".." + names.back()),
                      std::nullopt, example};
}

}  // namespace

std::vector<std::string> default_pool_users() {
  std::vector<std::string> names;
  for (int i = 0; i < kDefaultPoolSize; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "corral-s%02d", i);
    names.push_back(name);
  }
  return names;
}

Result<SessionUsers> choose_session_users(const std::string& user, const std::string& uids, uid_t daemon_euid,
                                          bool default_instance) {
  if (!uids.empty() && daemon_euid != 0)
    return Error::make(EPERM, "--session-uids needs a root corrald: only root can switch to other uids");
  if (!uids.empty() && !user.empty())
    return Error::make(EINVAL, "--session-uids and --session-user exclude each other: a pool, or one shared user");
  if (!uids.empty()) return range_users(uids);
  if (!user.empty() || daemon_euid != 0) return shared_users(user, daemon_euid);
  if (!default_instance)
    return Error::make(EINVAL, "the session uids corral-s00..corral-s15 are the default instance's: give this "
                               "instance a range of its own with --session-uids FIRST-LAST (or one user with "
                               "--session-user NAME)");
  return named_pool_users();
}

}  // namespace corral
