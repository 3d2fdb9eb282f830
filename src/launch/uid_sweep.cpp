// The daemon's side of the sweep: make sure no process of the uid is left,
// run the sweep command (uid_sweep_command.cpp) and read its verdict.
#include "corral/launch/uid_sweep.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <sstream>

#include "corral/util/file_io.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr unsigned kExitingFlag = 0x4;  // PF_EXITING: the task is in do_exit()

bool holds_uid(const std::string& status, uid_t uid) {
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("Uid:")) continue;
    std::istringstream fields(line.substr(4));
    for (uid_t id; fields >> id;)
      if (id == uid) return true;
  }
  return false;
}

// Zombies and tasks that have begun exiting run no code any more.
bool still_running(const std::string& stat) {
  auto close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(stat.substr(close + 1));
  std::string state, skip;
  unsigned flags = 0;
  fields >> state;
  for (int field = 4; field < 9; ++field) fields >> skip;
  fields >> flags;
  return state != "Z" && state != "X" && !(flags & kExitingFlag);
}

LaunchSpec sweep_spec(const Credentials& who, const std::vector<std::string>& dirs, const fs::path& log) {
  LaunchSpec spec;
  spec.argv = {"/proc/self/exe", kSweepCommand, std::to_string(who.uid), std::to_string(who.gid)};
  spec.argv.insert(spec.argv.end(), dirs.begin(), dirs.end());
  spec.environment = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"};
  spec.working_directory = "/";
  spec.log_file = log;
  return spec;  // run_as unset: the command drops to the uid itself, after its mount
}

Result<ExitStatus> run_and_wait(GatedChild& child, ChildWatcher& watcher, milliseconds timeout) {
  auto done = std::make_shared<std::promise<ExitStatus>>();
  auto finished = done->get_future();
  CORRAL_TRY_ASSIGN(auto pidfd, child.pidfd().dup());
  watcher.watch(std::move(pidfd), [done](ExitStatus status) { done->set_value(status); });
  CORRAL_TRY(child.release());
  if (finished.wait_for(timeout) != std::future_status::ready) {
    (void)child.pidfd().send_signal(SIGKILL);
    finished.wait();
    return Error::make(ETIMEDOUT, "the sweep did not finish in time");
  }
  return finished.get();
}

}  // namespace

std::set<uid_t> uids_owning_leftovers(const std::vector<std::string>& dirs) {
  std::set<uid_t> owners;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      struct stat info {};
      if (::lstat(entry.path().c_str(), &info) == 0) owners.insert(info.st_uid);
    }
  }
  for (auto [file, column] : {std::pair{"/proc/sysvipc/shm", 7}, {"/proc/sysvipc/msg", 7}, {"/proc/sysvipc/sem", 4}}) {
    auto text = read_file(file);
    if (!text) continue;
    std::istringstream lines(*text);
    std::string line;
    std::getline(lines, line);
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::vector<std::string> columns;
      for (std::string field; fields >> field;) columns.push_back(field);
      if (columns.size() > static_cast<size_t>(column) + 2) {
        owners.insert(static_cast<uid_t>(std::stoul(columns[column])));
        owners.insert(static_cast<uid_t>(std::stoul(columns[column + 2])));
      }
    }
  }
  return owners;
}

std::vector<pid_t> live_processes_of(uid_t uid) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto status = read_file(entry.path() / "status");
    auto stat = read_file(entry.path() / "stat");
    if (status && stat && holds_uid(*status, uid) && still_running(*stat)) pids.push_back(std::stoi(name));
  }
  return pids;
}

Result<void> sweep_session_uid(const Credentials& who, const std::vector<std::string>& dirs, const fs::path& log_dir,
                               ChildWatcher& watcher, milliseconds timeout) {
  auto alive = live_processes_of(who.uid);
  if (!alive.empty())
    return Error::make(EBUSY, "uid " + std::to_string(who.uid) + " still has process " + std::to_string(alive[0]) +
                                  " alive outside its session");
  // In root's state dir, not /tmp: a session uid can write /tmp and plant
  // names there. mkstemp makes the file 0600.
  std::string pattern = (log_dir / "sweep-XXXXXX.log").string();
  int fd = ::mkstemps(pattern.data(), 4);
  if (fd < 0) return Error::from_errno(errno, "mkstemps for the sweep's log in '" + log_dir.string() + "'");
  ::close(fd);
  fs::path log = pattern;
  auto child = GatedChild::spawn(sweep_spec(who, dirs, log));
  auto status = child ? run_and_wait(*child, watcher, timeout) : Result<ExitStatus>(child.error());
  auto said = read_file_tail(log, 2000);
  std::error_code ec;
  fs::remove(log, ec);
  if (!status) return status.error();
  if (status->code == 0 && status->signal == 0) return success();
  std::string what = said && !said->empty() ? *said : status->describe();
  while (!what.empty() && what.back() == '\n') what.pop_back();
  return Error::make(ENOTEMPTY, "uid " + std::to_string(who.uid) + " keeps what its session left: " + what);
}

}  // namespace corral
