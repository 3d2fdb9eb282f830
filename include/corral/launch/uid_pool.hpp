// SessionUidPool: which uid each live session runs as.
//
// Separate cgroups do not separate users: two sessions under one uid can
// signal and ptrace each other and read each other's profiles. So a root
// corrald gives every live session a uid (and gid) of its own from a pool,
// and takes it back only once nothing of the session is left (see
// uid_sweep.hpp). The pool bounds the number of sessions. A corrald that
// cannot switch users (unprivileged, under a user manager) or is told to
// (--session-user) runs every session as one shared uid: no separation, no
// bound, and health says so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "corral/launch/gated_child.hpp"
#include "corral/launch/writable_dirs.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// A uid whose sweep failed, and when it is tried again.
struct SweepRetry {
  std::string why;  ///< what the last attempt left
  size_t failures = 0;
  std::chrono::steady_clock::time_point next_attempt{};
};

struct SweepStatus {
  WritableDirs discovery;               ///< where sweeps look
  std::map<uid_t, SweepRetry> retries;  ///< failed sweeps waiting for their next attempt
};

struct UidPoolStatus {
  bool separate = false;        ///< each session a uid of its own
  std::string source;           ///< "users corral-s00..corral-s15", "uids 600000-600999", "shared: ..."
  size_t size = 0;              ///< uids in the pool (0: shared, no bound)
  size_t in_use = 0;
  std::map<uid_t, std::string> quarantined;  ///< uid → why it was not given back
  SweepStatus sweep;                         ///< filled in by the launcher
};

class SessionUidPool {
 public:
  /// Every session runs as `who`; `why` says so in health.
  static SessionUidPool shared(Credentials who, std::string why);
  /// Each session takes one of `members` until it is given back.
  static SessionUidPool of(std::vector<Credentials> members, std::string source);

  SessionUidPool(SessionUidPool&& other) noexcept;
  SessionUidPool& operator=(SessionUidPool&& other) noexcept;

  /// A free uid: the one free longest, so a uid just given back is used
  /// last. When none is free but some are taken, waits up to `wait` for one
  /// to be given back (a closed session's uid is swept after the close has
  /// answered, while admission already counts its room as free). ENOSPC
  /// when none comes.
  Result<Credentials> take(std::chrono::milliseconds wait = {});
  /// Mark `uid` taken by a session adopted after a restart. EEXIST if it is
  /// taken already, ENOENT if it is not in the pool.
  Result<void> claim(uid_t uid);
  /// Nothing of its session is left: the uid may serve another.
  void give_back(uid_t uid);
  /// Something of its session could not be removed: the uid serves no
  /// session until return_from_quarantine (a later sweep that succeeds) or
  /// corrald restarts. Again for a quarantined uid: a new why.
  void quarantine(uid_t uid, const std::string& why);
  /// A quarantined uid was swept clean after all: it may serve again.
  void return_from_quarantine(uid_t uid);

  bool separate() const { return m_separate; }
  /// The uid and gid of a member; nullopt for a uid not in the pool.
  std::optional<Credentials> member(uid_t uid) const;
  /// Members no session holds and none is quarantined.
  std::vector<Credentials> free_members() const;
  /// True for a uid the pool hands to sessions (never for a shared uid,
  /// which may be the daemon's own).
  bool is_session_uid(uid_t uid) const;
  UidPoolStatus status() const;

 private:
  SessionUidPool(bool separate, std::vector<Credentials> members, std::string source);

  bool m_separate;
  std::string m_source;
  std::map<uid_t, Credentials> m_members;
  mutable std::mutex m_mutex;
  std::condition_variable m_given_back;
  std::deque<uid_t> m_free;
  std::set<uid_t> m_taken;
  std::map<uid_t, std::string> m_quarantined;
};

}  // namespace corral
