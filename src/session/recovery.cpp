// Crash recovery: a corrald that starts after an earlier run died (kill -9,
// a crash, an upgrade) adopts the sessions that run left behind, and reaps
// everything it cannot vouch for.
//
// A session is adopted only when three sources agree: the state file has its
// record, the backend still has its scope, and the record's main process is
// alive, is the same process (start time), and sits in that scope. Anything
// less is reaped with cgroup.kill: a bot may lose a session it could have
// kept, but no browser is ever left running unaccounted for.
#include <spdlog/spdlog.h>

#include "corral/session/manager.hpp"
#include "corral/session/session_egress.hpp"
#include "corral/util/log_context.hpp"
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

// The steady-clock deadline of a wall-clock instant recorded by an earlier run.
steady_clock::time_point steady_deadline(system_clock::time_point when) {
  auto left = duration_cast<steady_clock::duration>(when - system_clock::now());
  return steady_clock::now() + std::max(left, steady_clock::duration::zero());
}

}  // namespace

std::map<std::string, SessionRecord> SessionManager::load_records(RecoveryReport& report) {
  auto file = session_records_path(m_config.state_dir);
  std::map<std::string, SessionRecord> by_id;
  auto records = load_session_records(file, m_backend.naming());
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
  auto egress = readopted_session_egress(recorded.id, recorded.request.egress, m_config.egress_names);
  CORRAL_TRY_ASSIGN(auto browser,
                    m_launcher.reattach(recorded.id, recorded.pid, record.pid_start_time, recorded.uid, egress));
  CORRAL_TRY(m_backend.check_contains(scope, recorded.pid));

  auto entry = std::make_shared<Entry>();
  entry->info = recorded;
  entry->info.scope = scope;
  entry->info.network = browser->network();
  entry->info.state = SessionState::running;
  if (m_config.egress_policy) entry->info.egress_policy = egress_policy_view(*m_config.egress_policy, egress);
  entry->browser = std::move(browser);
  entry->has_scope = true;
  entry->announced = true;
  entry->pid_start_time = record.pid_start_time;
  entry->ticket = m_admission.adopt(recorded.limits.memory_max.value_or(0));
  // Its cap holds again, and its count goes on from the last checkpoint
  // (below, once it is listed: past its cap, that closes it).
  cap_network(entry);
  entry->expires = steady_deadline(recorded.expires_at);
  entry->renew(steady_clock::now());  // the idle timeout starts again: requests during the outage were lost
  {
    std::lock_guard lock(m_mutex);
    m_live[recorded.id] = entry;
  }
  entry->browser->count_earlier_bytes(record.network_bytes_in, record.network_bytes_out);
  // Not our child any more: the launcher learns of its exit through a
  // pidfd, but its exit status went to whoever reaped it.
  m_launcher.watch_exit(*entry->browser, [this, id = recorded.id](ExitStatus status) { on_browser_exit(id, status); });
  return success();
}

void SessionManager::adopt_or_reap(const Scope& scope, const std::map<std::string, SessionRecord>& records,
                                   RecoveryReport& report) {
  auto named = m_backend.naming().session_id(scope.name);
  if (!named) {  // find_leftovers returns only this instance's scopes; never reap another's
    spdlog::error("scope {} is not one of instance {}'s; left alone", scope.name, m_backend.naming().instance());
    return;
  }
  const std::string& id = *named;
  SessionLogScope log_scope(id, scope.unit);
  auto record = records.find(id);
  if (record != records.end() && record->second.warm) {
    // Never handed out after a restart: whether it is still fresh and
    // unclaimed cannot be vouched for (a claim may have been under way).
    spdlog::info("scope {} was a warm browser; reaping it", scope.name);
  } else if (record != records.end()) {
    auto adopted = adopt(record->second, scope);
    if (adopted) {
      ++report.adopted;
      spdlog::info("session {} adopted: unit={} cgroup={} pid={}", id, scope.unit.empty() ? "-" : scope.unit,
                   scope.cgroup.string(), record->second.info.pid);
      return;
    }
    spdlog::warn("session {} cannot be adopted ({}); reaping it", id, adopted.error().message);
  } else {
    spdlog::warn("scope {} has no record in the state file; reaping it", scope.name);
  }
  if (auto removed = remove_leftover_scope(m_backend, scope, m_config.kill_wait); !removed) {
    spdlog::error("cannot reap leftover scope {}: {}", scope.name, removed.error().message);
    return;
  }
  ++report.reaped;
  spdlog::info("reaped leftover scope {} ({})", scope.name, scope.cgroup.string());
}

Result<RecoveryReport> SessionManager::recover() {
  RecoveryReport report;
  auto records = load_records(report);
  CORRAL_TRY_ASSIGN(auto scopes, m_backend.find_leftovers());
  for (const auto& scope : scopes) adopt_or_reap(scope, records, report);
  std::set<std::string> adopted;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, entry] : m_live) adopted.insert(id);
  }
  CORRAL_TRY(m_launcher.remove_files_except(adopted));
  CORRAL_TRY(m_launcher.reclaim_uids());  // what reaped sessions left under their uids
  persist();                     // drop the records of what was reaped
  m_closer_wakeup.notify_one();  // adopted leases to watch
  start_warm_pool();             // only now: a member started earlier would have been taken for a leftover
  return report;
}

}  // namespace corral
