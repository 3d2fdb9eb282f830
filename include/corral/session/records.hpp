// The state file: what a restarted corrald needs to adopt the sessions an
// earlier run left running.
//
// Scopes outlive the daemon (they are systemd units, or cgroups in a
// delegated subtree), but the facts a client relies on — which browser,
// its endpoints, its lease, the PID to watch — live only in the daemon. So
// every change to the set of running sessions rewrites one small JSON file,
// atomically (write a temporary file, rename over the old one). A file that
// is missing or unreadable loses nothing the host holds: sessions without a
// record are reaped, never guessed at.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "corral/util/error.hpp"
#include "corral/backend/instance_naming.hpp"
#include "corral/session/session.hpp"

namespace corral {

struct SessionRecord {
  SessionInfo info;             ///< request, limits, scope, pid, endpoints, lease
  uint64_t pid_start_time = 0;  ///< of info.pid, so a reused PID is not mistaken for it
  bool warm = false;            ///< a warm browser nobody claimed: a restart reaps it, never hands it out
  /// The bytes its pages had moved through its way out when the record was
  /// written (SessionManager::checkpoint_network_counts): a restarted
  /// corrald counts on from them, so that a byte cap outlives a crash.
  uint64_t network_bytes_in = 0, network_bytes_out = 0;
};

/// <state>/sessions.json
std::filesystem::path session_records_path(const std::filesystem::path& state_dir);

std::string encode_session_records(const std::vector<SessionRecord>& records);
/// EBADMSG, with what is wrong, for anything that is not a state file this
/// version of corral wrote for the instance `naming` names (every record's
/// scope must be naming.scope_name(its id); the default instance when not
/// given). All or nothing: one bad record rejects the file.
Result<std::vector<SessionRecord>> decode_session_records(const std::string& text,
                                                          const InstanceNaming& naming = InstanceNaming());

/// Replace the file atomically (write_file_atomic, mode 0600): a reader, or
/// a daemon killed at any instant, sees the old records or the new, never half.
///
/// Not fsync'ed (Durability::process_crash), because the file serves one
/// case: corrald dies (kill -9, a crash, a restart) while its sessions live
/// on, and a process's death keeps the page cache, renamed file included.
/// A power loss or kernel crash ends every session with it: after the boot
/// there is nothing to adopt, and recovery sets an unreadable file aside and
/// reaps by scope name anyway. The fsync was most of what an open cost over
/// a bare browser launch (issue 23), paid before every 201.
Result<void> save_session_records(const std::filesystem::path& file, const std::vector<SessionRecord>& records);
/// ENOENT when there is no file; EBADMSG when it is not a valid one for the
/// instance `naming` names (decode_session_records).
Result<std::vector<SessionRecord>> load_session_records(const std::filesystem::path& file,
                                                        const InstanceNaming& naming = InstanceNaming());

}  // namespace corral
