// Ending sessions: on a client's request, when the browser ends by itself,
// when a lease runs out, and at shutdown. Every path marks the session with
// mark_closing() and cleans it with end_session().
#include <signal.h>

#include <spdlog/spdlog.h>

#include "corral/session/manager.hpp"
#include "corral/util/log_context.hpp"
#include "entry.hpp"

namespace corral {
using namespace std::chrono;

bool SessionManager::mark_closing(Entry& entry) {
  auto state = entry.info.state;
  if (state == SessionState::closing || state == SessionState::closed) return false;
  entry.info.state = SessionState::closing;
  for (const auto& [handle, listener] : m_closing_listeners) listener(entry.info.id);
  return true;
}

CloseReport SessionManager::end_session(const EntryPtr& entry, CloseReason reason, milliseconds grace) {
  std::optional<Scope> scope;
  std::string id;
  {
    std::lock_guard lock(m_mutex);
    if (entry->has_scope) scope = entry->info.scope;
    id = entry->info.id;
  }
  SessionLogScope log_scope(id, scope ? scope->unit : "", close_reason_name(reason));
  auto report = clean_up_session(m_backend, *entry->browser, scope, id, reason, {grace, m_config.kill_wait});
  // A warm browser never was a session: its end is the pool's count.
  bool warm;
  {
    std::lock_guard lock(m_mutex);
    warm = entry->warm;
  }
  if (!warm) {
    m_metrics.session_closed(report);
    m_usage.session_closed(entry->info.request.labels, report);  // the request never changes: no lock
  }
  // The room is free once the cgroup is: a session's own uid comes back
  // after its sweep, and the next open waits for it (SessionUidPool::take).
  entry->ticket.release();
  auto log_level = report.clean() ? spdlog::level::info : spdlog::level::err;
  spdlog::log(log_level, "session {} closed: reason={} unit={} duration={} ms killed={} graceful={} verified_empty={}{}",
              id, close_reason_name(reason), scope && !scope->unit.empty() ? scope->unit : "-", report.duration_ms,
              report.processes_killed, report.graceful, report.verified_empty,
              report.problems.empty() ? "" : " problems: " + report.problems.front());
  report.pending = {"files"};
  if (entry->announced) report.pending.push_back("state_file");
  if (entry->info.uid) report.pending.push_back("uid");
  retire(entry, report);
  m_tidy_up.post([this, entry] { tidy_after_close(entry); });
  return report;
}

// Closed: out of the live set, into the history if the client ever had its
// id, and out of the state file.
void SessionManager::retire(const EntryPtr& entry, const CloseReport& report) {
  std::lock_guard lock(m_mutex);
  entry->info.state = SessionState::closed;
  entry->info.report = report;
  entry->browser.reset();  // its fds; the exit watcher keeps its own
  // The fd of its network namespace: a closed session in the history must
  // not keep that namespace alive. (Relays still running hold their own
  // copy until close_group ends them.)
  entry->info.network = SessionNetwork();
  m_live.erase(entry->info.id);
  m_live_changed.notify_all();
  m_warm_wakeup.notify_all();  // room freed: the pool may refill
  if (entry->announced) m_closed.push_back(entry);
  while (m_closed.size() > m_config.closed_history) m_closed.pop_front();
}

// Neither step changes what the client was told: the session's files left
// its reach with a rename, and a state file that still lists a closed
// session only makes a restart find no scope for it.
//
// The session's own uid goes back to the pool only now, once its files are
// gone and what it left elsewhere is swept (or it is quarantined).
void SessionManager::tidy_after_close(const EntryPtr& entry) {
  if (entry->announced) persist();
  std::vector<std::string> problems;
  if (auto removed = m_launcher.remove_set_aside_files(); !removed) problems.push_back(removed.error().message);
  std::optional<uid_t> uid;
  bool emptied;
  {
    std::lock_guard lock(m_mutex);
    uid = entry->info.uid;
    emptied = entry->info.report->verified_empty;
  }
  if (uid)
    if (auto released = m_launcher.release_uid(*uid, emptied); !released) problems.push_back(released.error().message);
  for (const auto& problem : problems) spdlog::error("session {}: {}", entry->info.id, problem);
  std::lock_guard lock(m_mutex);
  auto& report = *entry->info.report;
  report.pending.clear();
  report.problems.insert(report.problems.end(), problems.begin(), problems.end());
}

Result<SessionManager::EntryPtr> SessionManager::take_for_closing(const std::string& id) {
  auto entry = find(id);
  if (!entry) return Error::make(ENOENT, "no session '" + id + "'");
  if (entry->info.state == SessionState::starting) return Error::make(EBUSY, "session " + id + " is still starting");
  if (!mark_closing(*entry))
    return Error::make(EALREADY, "session " + id + " is already " + session_state_name(entry->info.state));
  return entry;
}

Result<CloseReport> SessionManager::close(const std::string& id, std::optional<milliseconds> grace) {
  EntryPtr entry;
  {
    std::lock_guard lock(m_mutex);
    CORRAL_TRY_ASSIGN(entry, take_for_closing(id));
  }
  return end_session(entry, CloseReason::client, grace.value_or(m_config.default_grace));
}

Result<SessionInfo> SessionManager::close_in_background(const std::string& id, std::optional<milliseconds> grace,
                                                        CloseReason reason) {
  EntryPtr entry;
  SessionInfo info;
  {
    std::lock_guard lock(m_mutex);
    CORRAL_TRY_ASSIGN(entry, take_for_closing(id));
    info = entry->info;
  }
  auto wait = grace.value_or(m_config.default_grace);
  m_background_closes.post([this, entry, wait, reason] { end_session(entry, reason, wait); });
  return info;
}

void SessionManager::on_browser_exit(const std::string& id, ExitStatus status) {
  std::string unit;
  {
    std::lock_guard lock(m_mutex);
    auto entry = find_any(id);
    if (!entry) return;
    entry->info.exit = status;
    // Starting: bring_up() sees the exit. Closing: its cleanup is under way.
    if (entry->info.state != SessionState::running) return;
    mark_closing(*entry);
    // A warm browser that ended is never handed out (a claim under way sees
    // it closing); it leaves the pool now.
    if (entry->warm) std::erase(m_warm_ready, entry), m_warm_counters.discarded(entry->info.request.kind);
    unit = entry->info.scope.unit;
    m_to_close.push_back(id);
  }
  SessionLogScope log_scope(id, unit);
  spdlog::warn("session {}: browser {}; cleaning up", id, status.describe());
  m_closer_wakeup.notify_one();
}

void SessionManager::cap_network(const EntryPtr& entry) {
  const auto& cap = entry->info.network_max_bytes;
  if (!cap || !entry->browser) return;
  entry->browser->cap_network(*cap, [this, id = entry->info.id] { on_network_limit(id); });
}

// Past its cap, the relay closed every connection of the session already:
// what is left is the close, with its reason, like an expired session's.
void SessionManager::on_network_limit(const std::string& id) {
  EntryPtr entry;
  std::string unit;
  {
    std::lock_guard lock(m_mutex);
    entry = find(id);
    // Starting: it has no client yet to have moved the bytes; its start ends it anyway.
    if (!entry || entry->info.state != SessionState::running || !mark_closing(*entry)) return;
    unit = entry->info.scope.unit;
  }
  SessionLogScope log_scope(id, unit);
  spdlog::warn("session {}: past its network_max_bytes of {}; closing it", id, *entry->info.network_max_bytes);
  m_background_closes.post([this, entry] { end_session(entry, CloseReason::network_limit, m_config.default_grace); });
}

// A browser that ended by SIGKILL while its cgroup counts OOM kills was
// killed by the kernel for memory, not by a person.
CloseReason SessionManager::exit_reason(const Entry& entry) const {
  bool killed = entry.info.exit && entry.info.exit->signal == SIGKILL;
  return killed && m_backend.stats(entry.info.scope).oom_kills.value_or(0) > 0 ? CloseReason::oom
                                                                               : CloseReason::browser_exited;
}

steady_clock::time_point SessionManager::next_expiry() const {
  auto next = steady_clock::time_point::max();
  for (const auto& [id, entry] : m_live)
    if (entry->info.state == SessionState::running && !entry->warm)
      next = std::min({next, entry->expires, entry->connections ? entry->expires : entry->idle_expires});
  return next;
}

std::vector<std::pair<SessionManager::EntryPtr, CloseReason>> SessionManager::take_expired() {
  std::vector<std::pair<EntryPtr, CloseReason>> expired;
  auto now = steady_clock::now();
  for (auto& [id, entry] : m_live) {
    if (entry->info.state != SessionState::running || entry->warm) continue;  // a warm browser has no lease yet
    if (entry->expires <= now) expired.emplace_back(entry, CloseReason::expired);
    else if (entry->connections == 0 && entry->idle_expires <= now) expired.emplace_back(entry, CloseReason::idle);
    else continue;
    mark_closing(*entry);
  }
  return expired;
}

void SessionManager::run_closer() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    auto due = take_expired();
    for (; !m_to_close.empty(); m_to_close.pop_front())
      if (auto entry = find_any(m_to_close.front())) due.emplace_back(entry, exit_reason(*entry));
    if (due.empty()) {
      if (m_closer_stop) return;
      // Woken early by a new session (a nearer deadline) or an exited browser.
      m_closer_due = std::min({next_expiry(), steady_clock::now() + hours(1), m_next_checkpoint});
      m_closer_wakeup.wait_until(lock, m_closer_due);
      m_closer_due = steady_clock::time_point::min();
      if (steady_clock::now() >= m_next_checkpoint) {
        m_next_checkpoint = steady_clock::now() + kNetworkCheckpoint;
        lock.unlock();
        checkpoint_network_counts();
        lock.lock();
      }
      continue;
    }
    lock.unlock();
    // On the background pool, so sessions that expire together take about
    // one grace each per pool thread, not one after another; the pool's
    // threads bound how many end at once. Each is marked closing already:
    // the next round does not take it again.
    for (auto& [entry, reason] : due) {
      bool browser_gone = reason == CloseReason::browser_exited || reason == CloseReason::oom;
      auto grace = browser_gone ? milliseconds(0) : m_config.default_grace;
      m_background_closes.post([this, entry, reason, grace] { end_session(entry, reason, grace); });
    }
    lock.lock();
  }
}

void SessionManager::refuse_new_sessions() {
  {
    std::lock_guard lock(m_mutex);
    m_shutting_down = true;
  }
  m_admission.close();
}

void SessionManager::close_all() {
  refuse_new_sessions();
  stop_warm_pool();  // no member starts after the list below is taken
  std::vector<EntryPtr> closing;
  {
    std::lock_guard lock(m_mutex);
    for (auto& [id, entry] : m_live)
      if (entry->info.state == SessionState::running && mark_closing(*entry)) closing.push_back(entry);
  }
  // In parallel, so N sessions take one grace period, not N.
  std::vector<std::thread> workers;
  // A frozen browser cannot act on SIGTERM: warm ones go without a grace.
  for (auto& entry : closing) {
    auto grace = entry->warm ? milliseconds(0) : m_config.default_grace;
    workers.emplace_back([this, entry, grace] { end_session(entry, CloseReason::shutdown, grace); });
  }
  for (auto& worker : workers) worker.join();
  // Sessions still starting, or being cleaned by the closer thread, end on their own.
  std::unique_lock lock(m_mutex);
  m_live_changed.wait(lock, [this] { return m_live.empty(); });
  lock.unlock();
  // The tidy-up after the last closes (state file, files, uid sweeps) is
  // done before close_all returns: corrald stops the child watcher next.
  m_background_closes.drain();
  m_tidy_up.drain();
}

}  // namespace corral
