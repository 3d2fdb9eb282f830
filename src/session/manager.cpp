// Opening sessions, and what the API reads of them. Closing is in
// closing.cpp, recovery after a crash in recovery.cpp.
#include "corral/session/manager.hpp"

#include <sys/random.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "corral/session/session_egress.hpp"
#include "corral/util/log_context.hpp"
#include "entry.hpp"

namespace corral {
using namespace std::chrono;

namespace {

// `count` random bytes from the kernel, in lower-case hex.
std::string random_hex(size_t count) {
  unsigned char bytes[32];
  if (count > sizeof bytes || getrandom(bytes, count, 0) != static_cast<ssize_t>(count))
    throw std::runtime_error("getrandom failed");
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < count; ++i) hex += {digits[bytes[i] >> 4], digits[bytes[i] & 15]};
  return hex;
}

// The usage metrics render the network families where bytes are counted.
UsageMetricsConfig usage_metrics_config(const SessionManagerConfig& config) {
  auto usage = config.usage_metrics;
  usage.network = config.network_counted;
  return usage;
}

// What its way out and its resolver have counted so far (live, from the
// relay's and the forwarder's atomics).
void add_network_counts(SessionInfo& info, const BrowserProcess& browser) {
  info.egress = browser.egress();
  info.dns = browser.dns();
}

}  // namespace

std::string new_session_id() { return random_hex(6); }

std::string new_access_secret() { return random_hex(16); }

bool valid_session_id(const std::string& id) {
  return id.size() == 12 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

SessionManager::SessionManager(ScopeBackend& backend, BrowserLauncher& launcher, SessionManagerConfig config)
    : m_backend(backend), m_launcher(launcher), m_config(std::move(config)), m_admission(m_config.admission),
      m_usage(usage_metrics_config(m_config)) {
  m_admission.set_reclaim([this] { return give_warm_place_back(); });
  m_closer = std::thread([this] { run_closer(); });
}

SessionManager::~SessionManager() {
  stop_warm_pool();
  {
    std::lock_guard lock(m_mutex);
    m_closer_stop = true;
  }
  m_closer_wakeup.notify_all();
  m_closer.join();
}

Result<void> SessionManager::check_request(const SessionRequest& request) const {
  if (!m_config.allow_unenforced_limits) CORRAL_TRY(check_enforceable(request.limits, m_backend.controllers()));
  CORRAL_TRY(check_session_egress(m_config.egress_policy, request.egress));
  auto seconds = [](milliseconds d) { return std::to_string(d.count() / 1000) + " s"; };
  if (request.ttl && *request.ttl > m_config.max_ttl)
    return Error::make(EINVAL, "ttl is above the daemon's maximum of " + seconds(m_config.max_ttl));
  if (request.idle_timeout && *request.idle_timeout > m_config.max_idle_timeout)
    return Error::make(EINVAL, "idle_timeout is above the daemon's maximum of " + seconds(m_config.max_idle_timeout));
  return check_network_cap(request);
}

// A cap is enforced where it is counted: at a way out of corrald's.
Result<void> SessionManager::check_network_cap(const SessionRequest& request) const {
  if (!request.network_max_bytes) return success();
  if (!m_config.network_counted)
    return Error::make(EOPNOTSUPP, "network_max_bytes needs sessions in networks of their own (--session-network), "
                                   "whose bytes corrald counts; this corrald's sessions share its network");
  const auto& maximum = m_config.max_network_max_bytes;
  if (maximum && *request.network_max_bytes > *maximum)
    return Error::make(EINVAL, "network_max_bytes is above the daemon's maximum of " + std::to_string(*maximum));
  return success();
}

Result<uint64_t> SessionManager::prepare_open(const SessionRequest& request) const {
  {
    std::lock_guard lock(m_mutex);
    if (m_shutting_down) return Error::make(EAGAIN, "the daemon is shutting down");
  }
  CORRAL_TRY(check_request(request));
  return request.limits.with_defaults(m_config.default_limits).memory_max.value_or(0);
}

Result<SessionInfo> SessionManager::open(const SessionRequest& request, milliseconds wait) {
  CORRAL_TRY_ASSIGN(uint64_t memory, prepare_open(request));
  if (auto member = take_warm_member(request)) return claim_or_open_cold(member, request, wait);
  return finish_open(request, m_admission.admit(memory, wait));
}

Admission::WaiterPtr SessionManager::open_async(const SessionRequest& request, milliseconds wait, Executor run,
                                                Opened opened) {
  auto memory = prepare_open(request);
  if (!memory) {
    opened(memory.error());
    return nullptr;
  }
  // A hit holds its room already (the member's ticket): no admission, and
  // the thaw and the check run off the caller's thread.
  if (auto member = take_warm_member(request)) {
    run([this, member, request, wait, opened] { opened(claim_or_open_cold(member, request, wait)); });
    return nullptr;
  }
  return m_admission.admit_async(*memory, wait.count() > 0, [this, request, run, opened](auto ticket) {
    if (!ticket) return opened(finish_open(request, std::move(ticket)));
    // std::function wants a copyable task; the ticket is move-only.
    auto held = std::make_shared<Admission::Ticket>(std::move(*ticket));
    run([this, request, opened, held] { opened(finish_open(request, std::move(*held))); });
  });
}

Result<SessionInfo> SessionManager::finish_open(const SessionRequest& request, Result<Admission::Ticket> ticket) {
  if (!ticket) {
    if (ticket.error().code == ENOSPC) m_metrics.admission_rejected();
    return ticket.error();
  }
  // The client's mistake, found before anything of the session exists.
  if (request.proxy) CORRAL_TRY(m_launcher.admit_proxy(*request.proxy));
  // Off the I/O thread now: the names in its egress lists can be resolved.
  // A list the policy refuses is the client's error (400), not the host's.
  auto egress = settle_session_egress(m_config.egress_policy, request.egress, m_config.egress_names);
  if (!egress) return egress.error();
  auto started = steady_clock::now();
  auto entry = start(request, *egress, std::move(*ticket));
  if (!entry) {
    m_metrics.open_failed();
    spdlog::warn("session open failed: {}", entry.error().message);
    // Host-side failures (ENOENT from a cgroup path, say) are the daemon's
    // problem, not the client's: keep only the classes the API promises.
    Error error = entry.error();
    if (error.code == ENOSPC) m_metrics.admission_rejected();  // no session uid free: a capacity limit
    if (error.code != EAGAIN && error.code != ECHILD && error.code != ETIMEDOUT && error.code != ENOEXEC &&
        error.code != ENOSPC)
      error.code = EIO;
    return error;
  }
  m_metrics.session_opened();
  m_usage.browser_started(request.kind, request.labels, steady_clock::now() - started);
  std::lock_guard lock(m_mutex);
  const SessionInfo& info = (*entry)->info;
  SessionLogScope log_scope(info.id, info.scope.unit);
  spdlog::info("session {} opened: kind={} unit={} cgroup={} pid={} in {} ms", info.id,
               browser_kind_name(info.request.kind), info.scope.unit.empty() ? "-" : info.scope.unit,
               info.scope.cgroup.string(), info.pid, duration_cast<milliseconds>(steady_clock::now() - started).count());
  return info;
}

// Each step either succeeds or hands the session to abandon_start(), which
// undoes whatever the steps before it did.
Result<SessionManager::EntryPtr> SessionManager::start(const SessionRequest& request, const EgressLists& egress,
                                                      Admission::Ticket ticket, bool warm) {
  std::string id = new_session_id();
  BrowserRequest launch{id, request.kind, request.args, {}, request.proxy, egress};
  launch.network_capped = request.network_max_bytes || m_config.default_network_max_bytes;
  // chromedriver answers only under a secret path: its port alone, which
  // pages and local users can learn, drives nothing.
  if (request.kind == BrowserKind::chromedriver) launch.driver_url_base = "/" + new_access_secret();
  CORRAL_TRY_ASSIGN(auto browser, m_launcher.spawn(launch));
  auto entry = make_entry(request, id, std::move(browser));
  entry->warm = warm;  // before place_in_scope lists it: never shown
  entry->refilling = warm;
  if (m_config.egress_policy) entry->info.egress_policy = egress_policy_view(*m_config.egress_policy, egress);
  entry->ticket = std::move(ticket);
  cap_network(entry);  // before release(): the way out opens capped
  m_launcher.watch_exit(*entry->browser, [this, id](ExitStatus status) { on_browser_exit(id, status); });
  if (auto placed = place_in_scope(entry); !placed) return abandon_start(entry, CloseReason::start_failed, placed.error());
  CORRAL_TRY(bring_up(entry));
  return entry;
}

SessionManager::EntryPtr SessionManager::make_entry(const SessionRequest& request, const std::string& id,
                                                    std::unique_ptr<BrowserProcess> browser) {
  auto entry = std::make_shared<Entry>();
  SessionInfo& info = entry->info;
  info.id = id;
  info.request = request;
  info.limits = request.limits.with_defaults(m_config.default_limits);
  info.pid = browser->pid();
  info.uid = browser->own_uid();
  info.access_secret = new_access_secret();
  info.created_at = system_clock::now();
  info.ttl = request.ttl.value_or(m_config.default_ttl);
  info.idle_timeout = request.idle_timeout.value_or(m_config.default_idle_timeout);
  info.expires_at = info.created_at + info.ttl;
  info.network_max_bytes = request.network_max_bytes ? request.network_max_bytes : m_config.default_network_max_bytes;
  if (!m_config.network_counted) info.network_max_bytes.reset();  // nothing counts: no cap to show
  entry->expires = steady_clock::now() + info.ttl;
  entry->renew(steady_clock::now());
  entry->pid_start_time = browser->start_time();
  entry->browser = std::move(browser);
  return entry;
}

// Once it has a scope the session is listed (as starting): from here on
// cgroup.kill reaches everything it starts.
Result<void> SessionManager::place_in_scope(const EntryPtr& entry) {
  const SessionInfo& info = entry->info;
  CORRAL_TRY_ASSIGN(auto scope, m_backend.create({m_backend.naming().scope_name(info.id), info.pid, info.limits,
                                                  "corral session " + info.id + " (" +
                                                      browser_kind_name(info.request.kind) + ")"}));
  auto enforced = m_backend.enforced(scope);
  std::lock_guard lock(m_mutex);
  entry->info.scope = scope;
  entry->info.enforced = enforced;
  entry->has_scope = true;
  m_live[info.id] = entry;
  return success();
}

Result<void> SessionManager::bring_up(const EntryPtr& entry) {
  auto ready = entry->browser->release();
  auto endpoints = ready ? entry->browser->wait_until_ready(m_config.start_timeout) : Result<Endpoints>(ready.error());
  if (!endpoints) {
    Error why = endpoints.error();
    std::string tail = entry->browser->log_tail();
    why.message = "could not start " + std::string(browser_kind_name(entry->info.request.kind)) + ": " +
                  why.message + (tail.empty() ? "" : "; browser log ends: " + tail);
    return abandon_start(entry, CloseReason::start_failed, why);
  }
  {
    std::unique_lock lock(m_mutex);
    if (m_shutting_down) {
      lock.unlock();
      return abandon_start(entry, CloseReason::shutdown, Error::make(EAGAIN, "the daemon is shutting down"));
    }
    // An exit seen while starting is left to us (on_browser_exit); one that
    // came after the browser answered would otherwise be lost.
    if (entry->info.exit) {
      auto exit = entry->info.exit->describe();
      lock.unlock();
      return abandon_start(entry, CloseReason::start_failed,
                           Error::make(ECHILD, "the browser " + exit + " during start-up"));
    }
    entry->info.endpoints = *endpoints;
    entry->info.network = entry->browser->network();
    entry->info.state = SessionState::running;
    entry->announced = true;
    entry->renew(steady_clock::now());  // the idle timeout counts from ready, not from fork
    m_closer_wakeup.notify_one();       // a new deadline to watch
  }
  persist();
  return success();
}

Error SessionManager::abandon_start(const EntryPtr& entry, CloseReason reason, Error why) {
  {
    std::lock_guard lock(m_mutex);
    mark_closing(*entry);
  }
  end_session(entry, reason, milliseconds(0));
  return why;
}

void SessionManager::persist() {
  std::lock_guard writer(m_persist_mutex);
  std::vector<SessionRecord> records;
  std::vector<std::shared_ptr<BrowserProcess>> browsers;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, entry] : m_live)
      if (entry->info.state == SessionState::running) {
        records.push_back({entry->info, entry->pid_start_time, entry->warm});
        browsers.push_back(entry->browser);
      }
  }
  m_persisted_network_bytes = record_network_counts(records, browsers);
  // Without the file a restart reaps these sessions instead of adopting
  // them; they keep working meanwhile, so this is logged, not fatal.
  if (auto saved = save_session_records(session_records_path(m_config.state_dir), records); !saved)
    spdlog::error("cannot save the state file: {}", saved.error().message);
}

SessionManager::EntryPtr SessionManager::find(const std::string& id) const {
  auto entry = find_any(id);
  return entry && !entry->warm ? entry : nullptr;
}

SessionManager::EntryPtr SessionManager::find_any(const std::string& id) const {
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
    if (entry->browser) add_network_counts(info, *entry->browser);
  }
  if (info.state == SessionState::running) info.stats = m_backend.stats(info.scope);
  return info;
}

std::vector<SessionInfo> SessionManager::list() const {
  std::vector<SessionInfo> sessions;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, entry] : m_live) {
      if (entry->warm) continue;
      sessions.push_back(entry->info);
      if (entry->browser) add_network_counts(sessions.back(), *entry->browser);
    }
  }
  // Per-session use, read outside the lock: a few small cgroupfs reads each.
  for (auto& info : sessions)
    if (info.state == SessionState::running) info.stats = m_backend.stats(info.scope);
  return sessions;
}

std::vector<SessionInfo> SessionManager::recently_closed() const {
  std::lock_guard lock(m_mutex);
  std::vector<SessionInfo> sessions;
  for (const auto& entry : m_closed) sessions.push_back(entry->info);
  return sessions;
}

Result<void> SessionManager::mark_console_control(const std::string& id, steady_clock::time_point until) {
  std::lock_guard lock(m_mutex);
  auto entry = find(id);
  if (!entry) return Error::make(ENOENT, "no session '" + id + "'");
  if (entry->info.state != SessionState::running)
    return Error::make(EALREADY, "session " + id + " is " + session_state_name(entry->info.state));
  entry->info.console_control_until = until;
  return success();
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
  return std::count_if(m_live.begin(), m_live.end(), [](const auto& live) { return !live.second->warm; });
}

}  // namespace corral
