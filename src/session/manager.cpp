#include "corral/session/manager.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>

#include <spdlog/spdlog.h>

#include "corral/util/file_io.hpp"
#include "corral/util/log_context.hpp"
#include "corral/util/process_identity.hpp"
#include "entry.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

std::string new_session_id() {
  unsigned char bytes[6];
  if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes) throw std::runtime_error("getrandom failed");
  static const char digits[] = "0123456789abcdef";
  std::string id;
  for (unsigned char byte : bytes) id += {digits[byte >> 4], digits[byte & 15]};
  return id;
}

bool valid_session_id(const std::string& id) {
  return id.size() == 12 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

namespace {

// The end of a browser's log, to say why it did not start.
std::string log_tail(const fs::path& log) {
  auto text = read_text_file(log);
  if (!text || text->empty()) return "";
  std::string tail = text->size() > 600 ? text->substr(text->size() - 600) : *text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return "; browser log ends: " + tail;
}

}  // namespace

SessionManager::SessionManager(ScopeBackend& backend, ChildWatcher& watcher, SessionManagerConfig config)
    : m_backend(backend), m_watcher(watcher), m_config(std::move(config)), m_admission(m_config.admission) {
  m_closer = std::thread([this] { run_closer(); });
}

SessionManager::~SessionManager() {
  {
    std::lock_guard lock(m_mutex);
    m_closer_stop = true;
  }
  m_closer_wakeup.notify_all();
  m_closer.join();
}

Result<SessionManager::Launch> SessionManager::prepare_launch(const SessionRequest& request) {
  bool chrome = request.kind == BrowserKind::chrome;
  const auto& program = chrome ? m_config.programs.chrome : m_config.programs.chromedriver;
  if (program.empty())
    return Error::make(ENOEXEC, std::string("no ") + browser_kind_name(request.kind) +
                                    " binary is configured on this host (install Debian's chromium / chromium-driver, "
                                    "or start corrald with --browser / --chromedriver)");
  Launch launch;
  launch.id = new_session_id();
  if (!chrome) {
    auto free_port = pick_free_port();
    if (!free_port) return free_port.error();
    launch.port = *free_port;
  }
  const auto& user = m_config.session_user;
  auto dirs = SessionDirs::create(m_config.state_dir, launch.id, user);
  if (!dirs) return dirs.error();
  launch.dirs = *dirs;
  launch.spec = chrome ? chrome_launch(program, launch.dirs, request.args, user)
                       : chromedriver_launch(program, launch.dirs, launch.port, request.args, user);
  return launch;
}

std::shared_ptr<SessionManager::Entry> SessionManager::track(const SessionRequest& request, const Launch& launch,
                                                             const GatedChild& child) {
  auto entry = std::make_shared<Entry>();
  entry->info.id = launch.id;
  entry->info.request = request;
  entry->info.limits = request.limits.with_defaults(m_config.default_limits);
  entry->info.pid = child.pid();
  entry->info.created_at = system_clock::now();
  entry->info.ttl = request.ttl.value_or(m_config.default_ttl);
  entry->info.idle_timeout = request.idle_timeout.value_or(m_config.default_idle_timeout);
  entry->info.expires_at = entry->info.created_at + entry->info.ttl;
  entry->expires = steady_clock::now() + entry->info.ttl;
  entry->renew(steady_clock::now());
  entry->dirs = launch.dirs;
  entry->pidfd.reset(::fcntl(child.pidfd(), F_DUPFD_CLOEXEC, 3));
  auto start_time = process_start_time(child.pid());
  entry->pid_start_time = start_time ? *start_time : 0;
  m_watcher.watch(child.pid(), entry->pidfd.get(),
                  [this, id = launch.id](ExitStatus status) { on_browser_exit(id, status); });
  return entry;
}

Result<std::shared_ptr<SessionManager::Entry>> SessionManager::start(const SessionRequest& request,
                                                                    Admission::Ticket ticket) {
  auto launch = prepare_launch(request);
  if (!launch) return launch.error();
  auto child = GatedChild::spawn(launch->spec);
  if (!child) {
    (void)launch->dirs.remove();
    return child.error();
  }
  auto entry = track(request, *launch, *child);
  entry->ticket = std::move(ticket);
  auto scope = m_backend.create({kScopePrefix + launch->id, child->pid(), entry->info.limits,
                                 "corral session " + launch->id + " (" + browser_kind_name(request.kind) + ")"});
  if (!scope) {
    m_watcher.unwatch(child->pid());
    child->abort();
    (void)launch->dirs.remove();
    return scope.error();
  }
  entry->info.scope = *scope;
  entry->info.enforced = Cgroup(scope->cgroup).enforced();
  {
    std::lock_guard lock(m_mutex);
    m_live[launch->id] = entry;
  }
  CORRAL_TRY(bring_up(entry, *child, *launch));
  return entry;
}

Result<void> SessionManager::bring_up(const std::shared_ptr<Entry>& entry, GatedChild& child, const Launch& launch) {
  auto released = child.release();
  if (!released) released = Error::make(ECHILD, "cannot run " + launch.spec.argv[0] + ": " + released.error().message);
  auto ready = released ? wait_until_ready(*entry, launch.port) : Result<Endpoints>(released.error());
  if (!ready) {
    auto why = ready.error();
    why.message = "could not start " + std::string(browser_kind_name(entry->info.request.kind)) + ": " +
                  why.message + log_tail(entry->dirs.log());
    finish(entry, CloseReason::start_failed, milliseconds(0));
    return why;
  }
  {
    std::unique_lock lock(m_mutex);
    entry->info.endpoints = *ready;
    if (m_shutting_down) {
      lock.unlock();
      finish(entry, CloseReason::shutdown, milliseconds(0));
      return Error::make(EAGAIN, "the daemon is shutting down");
    }
    entry->info.state = SessionState::running;
    entry->renew(steady_clock::now());  // the idle timeout counts from ready, not from fork
    m_closer_wakeup.notify_one();       // a new deadline to watch
  }
  persist();
  return success();
}

Result<Endpoints> SessionManager::wait_until_ready(const Entry& entry, uint16_t port) {
  if (entry.info.request.kind == BrowserKind::chrome)
    return wait_for_devtools(entry.dirs.profile, entry.pidfd.get(), m_config.start_timeout);
  return wait_for_webdriver(port, entry.pidfd.get(), m_config.start_timeout);
}

Result<void> SessionManager::check_durations(const SessionRequest& request) const {
  auto seconds = [](milliseconds d) { return std::to_string(d.count() / 1000) + " s"; };
  if (request.ttl && *request.ttl > m_config.max_ttl)
    return Error::make(EINVAL, "ttl is above the daemon's maximum of " + seconds(m_config.max_ttl));
  if (request.idle_timeout && *request.idle_timeout > m_config.max_idle_timeout)
    return Error::make(EINVAL, "idle_timeout is above the daemon's maximum of " + seconds(m_config.max_idle_timeout));
  return success();
}

Result<SessionInfo> SessionManager::open(const SessionRequest& request, milliseconds wait) {
  {
    std::lock_guard lock(m_mutex);
    if (m_shutting_down) return Error::make(EAGAIN, "the daemon is shutting down");
  }
  if (!m_config.allow_unenforced_limits) CORRAL_TRY(check_enforceable(request.limits, m_backend.controllers()));
  CORRAL_TRY(check_durations(request));
  auto limits = request.limits.with_defaults(m_config.default_limits);
  auto ticket = m_admission.admit(limits.memory_max.value_or(0), wait);
  if (!ticket) {
    if (ticket.error().code == ENOSPC) m_metrics.admission_rejected();
    return ticket.error();
  }
  auto started = steady_clock::now();
  auto entry = start(request, std::move(*ticket));
  if (!entry) {
    m_metrics.open_failed();
    spdlog::warn("session open failed: {}", entry.error().message);
    // Host-side failures (ENOENT from a cgroup path, say) are the daemon's
    // problem, not the client's: keep only the classes the API promises.
    Error error = entry.error();
    if (error.code != EAGAIN && error.code != ECHILD && error.code != ETIMEDOUT && error.code != ENOEXEC)
      error.code = EIO;
    return error;
  }
  m_metrics.session_opened();
  std::lock_guard lock(m_mutex);
  const SessionInfo& info = (*entry)->info;
  SessionLogScope log_scope(info.id, info.scope.unit);
  spdlog::info("session {} opened: kind={} unit={} cgroup={} pid={} in {} ms", info.id,
               browser_kind_name(info.request.kind), info.scope.unit.empty() ? "-" : info.scope.unit,
               info.scope.cgroup.string(), info.pid, duration_cast<milliseconds>(steady_clock::now() - started).count());
  return info;
}

CloseReport SessionManager::finish(const std::shared_ptr<Entry>& entry, CloseReason reason, milliseconds grace) {
  CleanupTarget target;
  {
    std::lock_guard lock(m_mutex);
    entry->info.state = SessionState::closing;
    target = CleanupTarget{entry->info.id, entry->info.scope, entry->pidfd.get(), entry->dirs};
  }
  SessionLogScope log_scope(target.id, target.scope.unit, close_reason_name(reason));
  auto report = clean_up_session(m_backend, target, reason, {grace, m_config.kill_wait});
  m_metrics.session_closed(report);
  entry->ticket.release();  // the room is free only once the host is
  auto log_level = report.clean() ? spdlog::level::info : spdlog::level::err;
  spdlog::log(log_level, "session {} closed: reason={} unit={} duration={} ms killed={} graceful={} verified_empty={}{}",
              report.id, close_reason_name(reason), target.scope.unit.empty() ? "-" : target.scope.unit,
              report.duration_ms, report.processes_killed, report.graceful, report.verified_empty,
              report.problems.empty() ? "" : " problems: " + report.problems.front());
  {
    std::lock_guard lock(m_mutex);
    entry->info.state = SessionState::closed;
    entry->info.report = report;
    m_live.erase(entry->info.id);
    m_live_changed.notify_all();
    m_closed.push_back(entry);
    while (m_closed.size() > m_config.closed_history) {
      m_watcher.unwatch(m_closed.front()->info.pid);
      m_closed.pop_front();
    }
  }
  persist();
  return report;
}

void SessionManager::persist() {
  std::lock_guard writer(m_persist_mutex);
  std::vector<SessionRecord> records;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, entry] : m_live)
      if (entry->info.state == SessionState::running) records.push_back({entry->info, entry->pid_start_time});
  }
  // Without the file a restart reaps these sessions instead of adopting
  // them; they keep working meanwhile, so this is logged, not fatal.
  if (auto saved = save_session_records(session_records_path(m_config.state_dir), records); !saved)
    spdlog::error("cannot save the state file: {}", saved.error().message);
}

std::shared_ptr<SessionManager::Entry> SessionManager::find(const std::string& id) const {
  if (auto it = m_live.find(id); it != m_live.end()) return it->second;
  for (const auto& entry : m_closed)
    if (entry->info.id == id) return entry;
  return nullptr;
}

Result<SessionInfo> SessionManager::get(const std::string& id) const {
  SessionInfo info;
  {
    std::lock_guard lock(m_mutex);
    auto entry = find(id);
    if (!entry) return Error::make(ENOENT, "no session '" + id + "'");
    info = entry->info;
  }
  if (info.state == SessionState::running) info.stats = Cgroup(info.scope.cgroup).stats();
  return info;
}

std::vector<SessionInfo> SessionManager::list() const {
  std::vector<SessionInfo> sessions;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, entry] : m_live) sessions.push_back(entry->info);
  }
  // Per-session use, read outside the lock: a few small cgroupfs reads each.
  for (auto& info : sessions)
    if (info.state == SessionState::running) info.stats = Cgroup(info.scope.cgroup).stats();
  return sessions;
}

Result<void> SessionManager::renew(const std::string& id) {
  std::lock_guard lock(m_mutex);
  auto entry = find(id);
  if (!entry) return Error::make(ENOENT, "no session '" + id + "'");
  if (entry->info.state == SessionState::running) entry->renew(steady_clock::now());
  return success();
}

MetricsGauges SessionManager::gauges() const {
  return MetricsGauges{open_count(), m_admission.queued(), m_admission.memory()};
}

size_t SessionManager::open_count() const {
  std::lock_guard lock(m_mutex);
  return m_live.size();
}

Result<CloseReport> SessionManager::close(const std::string& id, std::optional<milliseconds> grace) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(m_mutex);
    entry = find(id);
    if (!entry) return Error::make(ENOENT, "no session '" + id + "'");
    switch (entry->info.state) {
      case SessionState::starting: return Error::make(EBUSY, "session " + id + " is still starting");
      case SessionState::closing: return Error::make(EALREADY, "session " + id + " is already closing");
      case SessionState::closed: return Error::make(EALREADY, "session " + id + " is already closed");
      case SessionState::running: entry->info.state = SessionState::closing; break;
    }
  }
  return finish(entry, CloseReason::client, grace.value_or(m_config.default_grace));
}

void SessionManager::on_browser_exit(const std::string& id, ExitStatus status) {
  std::string unit;
  {
    std::lock_guard lock(m_mutex);
    auto entry = find(id);
    if (!entry) return;
    entry->info.exit = status;
    if (entry->info.state != SessionState::running) return;  // closing already, or start-up handles it
    entry->info.state = SessionState::closing;
    unit = entry->info.scope.unit;
    m_to_close.push_back(id);
  }
  SessionLogScope log_scope(id, unit);
  spdlog::warn("session {}: browser {}; cleaning up", id, status.describe());
  m_closer_wakeup.notify_one();
}

steady_clock::time_point SessionManager::next_expiry() const {
  auto next = steady_clock::time_point::max();
  for (const auto& [id, entry] : m_live)
    if (entry->info.state == SessionState::running) next = std::min({next, entry->expires, entry->idle_expires});
  return next;
}

std::vector<std::pair<std::shared_ptr<SessionManager::Entry>, CloseReason>> SessionManager::take_expired() {
  std::vector<std::pair<std::shared_ptr<Entry>, CloseReason>> expired;
  auto now = steady_clock::now();
  for (auto& [id, entry] : m_live) {
    if (entry->info.state != SessionState::running) continue;
    if (entry->expires <= now) expired.emplace_back(entry, CloseReason::expired);
    else if (entry->idle_expires <= now) expired.emplace_back(entry, CloseReason::idle);
    else continue;
    entry->info.state = SessionState::closing;
  }
  return expired;
}

// A browser that ended by SIGKILL while its cgroup counts OOM kills was
// killed by the kernel for memory, not by a person.
static CloseReason exit_reason(const SessionInfo& info) {
  bool killed = info.exit && info.exit->signal == SIGKILL;
  return killed && Cgroup(info.scope.cgroup).stats().oom_kills.value_or(0) > 0 ? CloseReason::oom
                                                                               : CloseReason::browser_exited;
}

void SessionManager::run_closer() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    auto due = take_expired();
    for (; !m_to_close.empty(); m_to_close.pop_front())
      if (auto entry = find(m_to_close.front())) due.emplace_back(entry, exit_reason(entry->info));
    if (due.empty()) {
      if (m_closer_stop) return;
      // Woken early by a new session (a nearer deadline) or an exited browser.
      m_closer_wakeup.wait_until(lock, std::min(next_expiry(), steady_clock::now() + std::chrono::hours(1)));
      continue;
    }
    lock.unlock();
    for (auto& [entry, reason] : due) {
      bool browser_gone = reason == CloseReason::browser_exited || reason == CloseReason::oom;
      finish(entry, reason, browser_gone ? milliseconds(0) : m_config.default_grace);
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
  std::vector<std::shared_ptr<Entry>> closing;
  {
    std::lock_guard lock(m_mutex);
    for (auto& [id, entry] : m_live)
      if (entry->info.state == SessionState::running) {
        entry->info.state = SessionState::closing;
        closing.push_back(entry);
      }
  }
  // In parallel, so N sessions take one grace period, not N.
  std::vector<std::thread> workers;
  for (auto& entry : closing)
    workers.emplace_back([this, entry] { finish(entry, CloseReason::shutdown, m_config.default_grace); });
  for (auto& worker : workers) worker.join();
  // Sessions still starting, or being cleaned by the closer thread, end on their own.
  std::unique_lock lock(m_mutex);
  m_live_changed.wait(lock, [this] { return m_live.empty(); });
}

}  // namespace corral
