// The sweep command itself: runs in a fresh, single-threaded process of its
// own (see uid_sweep.hpp).
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <sstream>

#include "corral/launch/owned_entries.hpp"
#include "corral/launch/session_keyrings.hpp"
#include "corral/launch/uid_sweep.hpp"
#include "corral/util/file_io.hpp"
#include "corral/util/open_directory.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {
namespace fs = std::filesystem;

namespace {

// Where the message-queue filesystem is mounted, in our own mount namespace
// only; the host's mounts are not touched. It hides /run (and /run/lock)
// from us: the swept directories are opened before it is mounted.
constexpr const char* kQueueMount = "/run";

bool mount_message_queues() {
  if (::unshare(CLONE_NEWNS) < 0) return false;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return false;
  return ::mount("mqueue", kQueueMount, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
}

bool drop_to(uid_t uid, gid_t gid) {
  return ::setgroups(0, nullptr) == 0 && ::setresgid(gid, gid, gid) == 0 && ::setresuid(uid, uid, uid) == 0 &&
         ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
}

// A world-writable directory found by discovery, opened as root before the
// mount below hides anything and before the drop: a descriptor lists a
// directory (1733: writable, not readable) the uid could not.
struct SweptDir {
  UniqueFd fd;
  std::string path;
};

std::vector<SweptDir> open_swept_dirs(char** first, char** last) {
  std::vector<SweptDir> dirs;
  for (char** arg = first; arg != last; ++arg) {
    auto fd = open_directory_nofollow(*arg);
    if (fd.valid()) dirs.push_back({std::move(fd), *arg});  // gone since discovery: nothing there to sweep
  }
  return dirs;
}

// Entries of `dir` (not below) that `uid` owns.
std::vector<std::string> owned_entries(const std::string& dir, uid_t uid) {
  std::vector<std::string> owned;
  DIR* stream = ::opendir(dir.c_str());
  if (!stream) return owned;
  while (auto* entry = ::readdir(stream)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat info {};
    if (::fstatat(::dirfd(stream), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_uid == uid)
      owned.push_back(dir + "/" + name);
  }
  ::closedir(stream);
  return owned;
}

void remove_owned_ipc(uid_t uid, std::vector<std::string>& left) {
  auto each = [&](const char* file, size_t column, auto remove) {
    auto text = read_file(file);
    if (!text) return;
    for (int id : owned_ipc_ids(*text, column, uid))
      if (remove(id) < 0) left.push_back(std::string(file) + " id " + std::to_string(id) + ": " + strerror(errno));
  };
  each("/proc/sysvipc/shm", 7, [](int id) { return ::shmctl(id, IPC_RMID, nullptr); });
  each("/proc/sysvipc/msg", 7, [](int id) { return ::msgctl(id, IPC_RMID, nullptr); });
  each("/proc/sysvipc/sem", 4, [](int id) { return ::semctl(id, 0, IPC_RMID); });
}

void remove_owned_queues(uid_t uid, std::vector<std::string>& left) {
  for (const auto& path : owned_entries(kQueueMount, uid))
    if (::unlink(path.c_str()) < 0) left.push_back(path + ": " + strerror(errno));
}

// What `uid` still owns after the removal, for the verdict.
void check_nothing_left(uid_t uid, const std::vector<SweptDir>& dirs, bool queues_mounted,
                        std::vector<std::string>& left) {
  for (const auto& dir : dirs) list_owned_entries(dir.fd.get(), dir.path, uid, left);
  for (auto [file, column] : {std::pair{"/proc/sysvipc/shm", 7}, {"/proc/sysvipc/msg", 7}, {"/proc/sysvipc/sem", 4}})
    if (auto text = read_file(file))
      for (int id : owned_ipc_ids(*text, column, uid)) {
        // A segment marked for removal lingers while a process has it
        // attached; the session has none left, so it is gone at once.
        left.push_back(std::string(file) + " id " + std::to_string(id) + " is still there");
      }
  if (queues_mounted)
    for (const auto& path : owned_entries(kQueueMount, uid)) left.push_back("message queue " + path + " is still there");
}

}  // namespace

std::vector<int> owned_ipc_ids(const std::string& text, size_t uid_column, uid_t uid) {
  std::vector<int> ids;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> columns;
    for (std::string field; fields >> field;) columns.push_back(field);
    if (columns.size() <= uid_column + 2) continue;
    auto owner = std::to_string(uid);
    if (columns[uid_column] == owner || columns[uid_column + 2] == owner) ids.push_back(std::atoi(columns[1].c_str()));
  }
  return ids;
}

int sweep_command_main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: corrald %s UID GID [WORLD-WRITABLE-DIR...]\n", kSweepCommand);
    return 2;
  }
  uid_t uid = static_cast<uid_t>(std::strtoul(argv[2], nullptr, 10));
  gid_t gid = static_cast<gid_t>(std::strtoul(argv[3], nullptr, 10));
  if (uid == 0) return 2;
  auto dirs = open_swept_dirs(argv + 4, argv + argc);
  bool queues = mount_message_queues();
  if (!drop_to(uid, gid)) {
    std::perror("drop to the session uid");
    return 1;
  }
  std::vector<std::string> left, notes;
  for (const auto& dir : dirs) remove_owned_entries(dir.fd.get(), dir.path, uid, left);
  remove_owned_ipc(uid, left);
  if (queues) remove_owned_queues(uid, left);
  left.clear();  // what failed shows again below, if it is still there
  check_nothing_left(uid, dirs, queues, left);
  clear_own_keyrings(left, notes);  // checks what it cleared itself
  for (const auto& what : left) std::fprintf(stderr, "%s\n", what.c_str());
  for (const auto& note : notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  if (!queues) std::fprintf(stderr, "note: POSIX message queues not checked (cannot mount mqueue)\n");
  return left.empty() ? 0 : 1;
}

}  // namespace corral
