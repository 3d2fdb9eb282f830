// Who may use a corrald that has no token. Without --token-file the API
// listens on loopback (or a unix socket) only, but loopback is shared by
// every local user: any of them could open browsers as corral's session
// users, read sessions' DevTools URLs and close other bots' sessions. A
// unix socket is limited by its mode (0660: owner and group); over TCP the
// kernel names the peer's uid (net/socket_owner.hpp), and this decides: root,
// corrald's own uid (the CI recipe's `systemd-run --user` corrald and its
// clients), and the members of group `corral`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace corral {

/// The group whose members may use a tokenless corrald (sysusers.d entry).
inline constexpr const char* kClientGroup = "corral";

class TokenlessCallers {
 public:
  /// Root, `daemon_uid`, and the members of group `group` by the user
  /// database, asked again at most every few seconds per uid (a user added
  /// to the group is admitted without a restart).
  explicit TokenlessCallers(uid_t daemon_uid, std::string group = kClientGroup);

  bool admits(uid_t uid);
  /// "root, uid 1000 and the members of group corral", for messages.
  std::string describe() const;

 private:
  bool member_of_group(uid_t uid) const;

  uid_t m_daemon_uid;
  std::string m_group;
  std::mutex m_mutex;
  std::map<uid_t, std::pair<bool, std::chrono::steady_clock::time_point>> m_members;  ///< uid -> (member, when asked)
};

}  // namespace corral
