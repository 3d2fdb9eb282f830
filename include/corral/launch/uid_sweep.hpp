// What a session leaves outside its cgroup and its directories: files in
// the world-writable directories (writable_dirs.hpp finds them: /dev/shm,
// /tmp, /var/tmp, /run/lock, /tmp/.X11-unix...), System V IPC objects,
// POSIX message queues, keys in its user and persistent keyrings. They
// outlive every process of the session and belong to its uid, so the next
// session with that uid would find them. Before a uid goes back to the
// pool, a sweep removes them.
//
// The sweep runs in a process of its own (corrald re-executed with
// --sweep-session-uid UID GID DIR...): as root it only opens the
// world-writable directories and mounts the message-queue filesystem in a
// private mount namespace, then drops to the uid, so that everything it
// removes it removes as the owner, as any user may in a sticky directory,
// and a link planted by the session leads nowhere a root process could be
// tricked into.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "corral/launch/child_watcher.hpp"
#include "corral/launch/gated_child.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// argv[1] of corrald that runs the sweep (see sweep_command_main).
inline constexpr const char* kSweepCommand = "--sweep-session-uid";

/// IPC ids owned by `uid` in a /proc/sysvipc/{shm,msg,sem} text; `uid_column`
/// is where that file has its uid (7, 7 and 4), and cuid is two further.
std::vector<int> owned_ipc_ids(const std::string& text, size_t uid_column, uid_t uid);

/// The sweep command: `corrald --sweep-session-uid UID GID DIR...`, DIRs the
/// world-writable directories to sweep (owned_entries.hpp). Exit status 0
/// when nothing of UID is left; 1, with what is left on stderr, otherwise.
int sweep_command_main(int argc, char** argv);

/// Run the sweep command for `who` over `dirs` and wait for it (up to
/// `timeout`). ENOTEMPTY with what is left. Also fails when a process of
/// that uid is still alive: nothing of the session may be. The command's
/// output goes to a 0600 file in `log_dir` (the daemon's state dir, which
/// only root may write), removed once read.
Result<void> sweep_session_uid(const Credentials& who, const std::vector<std::string>& dirs,
                               const std::filesystem::path& log_dir, ChildWatcher& watcher,
                               std::chrono::milliseconds timeout);

/// Uids that own an entry in one of `dirs` or a System V IPC object, read
/// as root without following anything (message queues need a mount to
/// list, which only the sweep command makes; keys cannot be listed).
std::set<uid_t> uids_owning_leftovers(const std::vector<std::string>& dirs);

/// Processes with any uid (real, effective, saved, fs) `uid` that have not
/// begun exiting.
std::vector<pid_t> live_processes_of(uid_t uid);

}  // namespace corral
