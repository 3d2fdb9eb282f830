// What a session leaves outside its cgroup and its directories: files in
// the world-writable places (/dev/shm, /tmp, /var/tmp), System V IPC
// objects, POSIX message queues. They outlive every process of the session
// and belong to its uid, so the next session with that uid would find
// them. Before a uid goes back to the pool, a sweep removes them.
//
// The sweep runs in a process of its own (corrald re-executed with
// --sweep-session-uid UID GID): as root it only mounts the message-queue
// filesystem in a private mount namespace, then drops to the uid, so that
// everything it removes it removes as the owner, as any user may in a
// sticky directory, and a link planted by the session leads nowhere a
// root process could be tricked into.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "corral/launch/child_watcher.hpp"
#include "corral/launch/gated_child.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// argv[1] of corrald that runs the sweep (see sweep_command_main).
inline constexpr const char* kSweepCommand = "--sweep-session-uid";

/// The places a sweep empties of what the uid owns.
inline const std::vector<std::string> kSweptDirs = {"/dev/shm", "/tmp", "/var/tmp"};

/// IPC ids owned by `uid` in a /proc/sysvipc/{shm,msg,sem} text; `uid_column`
/// is where that file has its uid (7, 7 and 4), and cuid is two further.
std::vector<int> owned_ipc_ids(const std::string& text, size_t uid_column, uid_t uid);

/// The sweep command: `corrald --sweep-session-uid UID GID`. Exit status 0
/// when nothing of UID is left; 1, with what is left on stderr, otherwise.
int sweep_command_main(int argc, char** argv);

/// Run the sweep command for `who` and wait for it (up to `timeout`).
/// ENOTEMPTY with what is left. Also fails when a process of that uid is
/// still alive: nothing of the session may be.
Result<void> sweep_session_uid(const Credentials& who, ChildWatcher& watcher, std::chrono::milliseconds timeout);

/// Uids that own an entry in kSweptDirs or a System V IPC object, read as
/// root without following anything (message queues need a mount to list,
/// which only the sweep command makes).
std::set<uid_t> uids_owning_leftovers();

/// Processes with any uid (real, effective, saved, fs) `uid` that have not
/// begun exiting.
std::vector<pid_t> live_processes_of(uid_t uid);

}  // namespace corral
