// Crash recovery: a corrald that starts after an earlier run died (kill -9,
// a crash, an upgrade) adopts the sessions that run left behind, and reaps
// everything it cannot vouch for.
//
// A session is adopted only when three sources agree: the state file has its
// record, the backend still has its scope, and the record's main process is
// alive, is the same process (start time), and sits in that scope. Anything
// less is reaped with cgroup.kill: a bot may lose a session it could have
// kept, but no browser is ever left running unaccounted for.
#include <poll.h>
#include <sys/syscall.h>

#include <spdlog/spdlog.h>

#include "corral/cgroup/paths.hpp"
#include "corral/util/log_context.hpp"
#include "corral/util/process_identity.hpp"
#include "corral/session/manager.hpp"
#include "entry.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

// A state file that cannot be read is kept aside for the operator, so the
// next save does not destroy the evidence.
void set_aside(const fs::path& file) {
  fs::path aside = file;
  aside += ".corrupt";
  std::error_code ec;
  fs::rename(file, aside, ec);
  if (!ec) spdlog::warn("moved the unreadable state file to {}", aside.string());
}

// True when `pid` is in `cgroup` or below it (a browser may make child
// cgroups in a delegated scope).
Result<void> check_placement(pid_t pid, const fs::path& cgroup) {
  auto mount = cgroup2_mount();
  if (!mount) return mount.error();
  auto relative = cgroup_of_process(pid);
  if (!relative) return relative.error();
  fs::path where = *mount / relative->substr(1);
  auto [scope_end, where_end] = std::mismatch(cgroup.begin(), cgroup.end(), where.begin(), where.end());
  if (scope_end != cgroup.end()) return Error::make(ESRCH, "pid " + std::to_string(pid) + " is in " + where.string());
  return success();
}

// The steady-clock deadline of a wall-clock instant recorded by an earlier run.
steady_clock::time_point steady_deadline(system_clock::time_point when) {
  auto left = duration_cast<steady_clock::duration>(when - system_clock::now());
  return steady_clock::now() + std::max(left, steady_clock::duration::zero());
}

}  // namespace

std::map<std::string, SessionRecord> SessionManager::load_records(RecoveryReport& report) {
  auto file = session_records_path(m_config.state_dir);
  std::map<std::string, SessionRecord> by_id;
  auto records = load_session_records(file);
  if (!records) {
    if (records.error().code == ENOENT) return by_id;  // first start, or a clean stop
    report.state_file_problem = records.error().message;
    spdlog::error("state file {} is unusable ({}); sessions left by the earlier run will be reaped", file.string(),
                  records.error().message);
    set_aside(file);
    return by_id;
  }
  for (auto& record : *records) by_id[record.info.id] = std::move(record);
  return by_id;
}

Result<void> SessionManager::adopt(const SessionRecord& record, const Scope& scope) {
  const SessionInfo& recorded = record.info;
  if (recorded.scope.cgroup != scope.cgroup)
    return Error::make(ESTALE, "its record names cgroup " + recorded.scope.cgroup.string());
  auto dirs = SessionDirs::at(m_config.state_dir, recorded.id);
  if (!fs::is_directory(dirs.profile)) return Error::make(ENOENT, "its profile dir is gone");
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, recorded.pid, 0)));
  if (!pidfd.valid()) return Error::from_errno(errno, "its browser (pid " + std::to_string(recorded.pid) + ") is gone");
  // A pidfd is readable once its process has exited, zombies included.
  struct pollfd exited = {pidfd.get(), POLLIN, 0};
  if (::poll(&exited, 1, 0) > 0)
    return Error::make(ESRCH, "its browser (pid " + std::to_string(recorded.pid) + ") is gone (exited)");
  // The PID could have been reused since the record was written.
  auto start_time = process_start_time(recorded.pid);
  if (!start_time || *start_time != record.pid_start_time)
    return Error::make(ESRCH, "pid " + std::to_string(recorded.pid) + " is another process now");
  CORRAL_TRY(check_placement(recorded.pid, scope.cgroup));

  auto entry = std::make_shared<Entry>();
  entry->info = recorded;
  entry->info.scope = scope;
  entry->info.state = SessionState::running;
  entry->dirs = dirs;
  entry->pidfd = std::move(pidfd);
  entry->pid_start_time = record.pid_start_time;
  entry->ticket = m_admission.adopt(recorded.limits.memory_max.value_or(0));
  entry->expires = steady_deadline(recorded.expires_at);
  entry->renew(steady_clock::now());  // the idle timeout starts again: requests during the outage were lost
  {
    std::lock_guard lock(m_mutex);
    m_live[recorded.id] = entry;
  }
  // Not our child any more: the watcher learns of its exit through the pidfd,
  // but its exit status went to whoever reaped it.
  m_watcher.watch(recorded.pid, entry->pidfd.get(),
                  [this, id = recorded.id](ExitStatus status) { on_browser_exit(id, status); });
  return success();
}

Result<void> SessionManager::remove_unadopted_dirs() {
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(sessions_dir(m_config.state_dir), ec)) {
    auto id = dir.path().filename().string();
    {
      std::lock_guard lock(m_mutex);
      if (m_live.count(id)) continue;
    }
    fs::remove_all(dir.path(), ec);
    if (ec) return Error::from_errno(ec.value(), "remove leftover '" + dir.path().string() + "'");
    spdlog::info("removed leftover session dir {}", dir.path().string());
  }
  return success();
}

Result<RecoveryReport> SessionManager::recover() {
  RecoveryReport report;
  auto records = load_records(report);
  auto scopes = m_backend.find_leftovers();
  if (!scopes) return scopes.error();
  for (const auto& scope : *scopes) {
    std::string id = scope.name.substr(std::string(kScopePrefix).size());
    SessionLogScope log_scope(id, scope.unit);
    auto record = records.find(id);
    if (record != records.end()) {
      auto adopted = adopt(record->second, scope);
      if (adopted) {
        ++report.adopted;
        spdlog::info("session {} adopted: unit={} cgroup={} pid={}", id, scope.unit.empty() ? "-" : scope.unit,
                     scope.cgroup.string(), record->second.info.pid);
        continue;
      }
      spdlog::warn("session {} cannot be adopted ({}); reaping it", id, adopted.error().message);
    } else {
      spdlog::warn("scope {} has no record in the state file; reaping it", scope.name);
    }
    CORRAL_TRY(remove_leftover_scope(m_backend, scope, m_config.kill_wait));
    ++report.reaped;
    spdlog::info("reaped leftover scope {} ({})", scope.name, scope.cgroup.string());
  }
  CORRAL_TRY(remove_unadopted_dirs());
  persist();  // drop the records of what was reaped
  m_closer_wakeup.notify_one();  // adopted leases to watch
  return report;
}

}  // namespace corral
