// The warm pool (--warm): browsers started ahead of any request through the
// same start as a session's (own scope, uid, directories, namespaces, way
// out), with the daemon's defaults, each holding its admission ticket, then
// frozen. An open that asks nothing a member lacks (warm_miss_reason) is
// handed one: its limits written, thawed, checked, recorded, answered.
//
// A member is an Entry in m_live marked `warm`: find() and list() do not
// see it, it has no lease, and the state file records it as warm, so that
// a restart reaps it (recovery.cpp) and never hands it out. A cold open
// that lacks room takes a member's place (Admission's Reclaim): the member
// leaves the count at once and is killed in the background, so for the few
// milliseconds of its kill the host holds it and the new start together.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "corral/session/manager.hpp"
#include "corral/session/session_egress.hpp"
#include "corral/util/log_context.hpp"
#include "entry.hpp"

namespace corral {
using namespace std::chrono;

namespace {

// A refill that found no room (or failed) tries again after this, doubled
// while it keeps failing (a missing browser must not fill the log), unless
// a close or a claim wakes it earlier.
constexpr milliseconds kRefillRetry{500};
constexpr milliseconds kRefillRetryMost{30000};

}  // namespace

void SessionManager::start_warm_pool() {
  bool any = std::any_of(m_config.warm.begin(), m_config.warm.end(), [](const auto& t) { return t.second > 0; });
  if (!any || m_warm_refill.joinable()) return;
  m_warm_refill = std::thread([this] { run_warm_refill(); });
}

void SessionManager::stop_warm_pool() {
  {
    std::lock_guard lock(m_mutex);
    m_warm_stop = true;
  }
  m_warm_wakeup.notify_all();
  if (m_warm_refill.joinable()) m_warm_refill.join();
}

size_t SessionManager::warm_members(BrowserKind kind) const {
  return std::count_if(m_live.begin(), m_live.end(), [kind](const auto& live) {
    const auto& entry = *live.second;
    return entry.warm && entry.info.request.kind == kind && entry.info.state != SessionState::closing;
  });
}

// One member at a time: a start takes a core for a few hundred ms, and the
// opens the pool is for must not queue behind a burst of refills.
void SessionManager::run_warm_refill() {
  std::unique_lock lock(m_mutex);
  auto retry = kRefillRetry;
  while (!m_warm_stop && !m_shutting_down) {
    std::optional<BrowserKind> short_of;
    for (const auto& [kind, target] : m_config.warm)
      if (warm_members(kind) < target) short_of = kind;
    if (!short_of) {
      m_warm_wakeup.wait(lock);
      continue;
    }
    lock.unlock();
    bool started = refill_one(*short_of);
    lock.lock();
    retry = started ? kRefillRetry : std::min(retry * 2, kRefillRetryMost);
    if (!started && !m_warm_stop) m_warm_wakeup.wait_for(lock, retry);
  }
}

bool SessionManager::refill_one(BrowserKind kind) {
  SessionRequest request;
  request.kind = kind;
  auto ticket = m_admission.try_take(request.limits.with_defaults(m_config.default_limits).memory_max.value_or(0));
  if (!ticket) return false;  // no room: it waits; a cold open never does for it
  auto egress = settle_session_egress(m_config.egress_policy, request.egress, m_config.egress_names);
  if (!egress) return false;
  auto began = steady_clock::now();
  auto entry = start(request, *egress, std::move(*ticket), true);
  if (!entry) {
    spdlog::warn("warm {}: could not start one: {}", browser_kind_name(kind), entry.error().message);
    return false;
  }
  if (ended_for_giving_way(*entry)) return false;
  if (kind == BrowserKind::chromedriver && !start_warm_driver_browser(*entry)) return false;
  if (ended_for_giving_way(*entry)) return false;
  settle_before_freezing(*entry);
  if (ended_for_giving_way(*entry)) return false;
  bool frozen = freeze_warm(*entry);
  if (!frozen && m_warm_freezes) return false;  // discarded
  double seconds = duration<double>(steady_clock::now() - began).count();
  {
    std::lock_guard lock(m_mutex);
    if ((*entry)->info.state != SessionState::running) return false;  // it exited meanwhile: being cleaned
    (*entry)->frozen = frozen;
    (*entry)->refilling = false;
    if (!(*entry)->gave_way) m_warm_ready.push_back(*entry);
  }
  if (ended_for_giving_way(*entry)) return false;
  m_warm_counters.refilled(kind, seconds);
  spdlog::info("warm {} {} ready ({}) in {:.0f} ms", browser_kind_name(kind), (*entry)->info.id,
               frozen ? "frozen" : "unfrozen", seconds * 1000);
  return true;
}

// A warm chromedriver has its browser started before it freezes, so that a
// claim only attaches to it (include/corral/launch/warm_driver.hpp).
bool SessionManager::start_warm_driver_browser(const EntryPtr& member) {
  if (m_config.warm_driver_session.empty()) {
    discard_warm(member, "corrald has no new-session body for a warm chromedriver");
    return false;
  }
  auto port = member->browser->start_warm_driver_browser(m_config.warm_driver_session,
                                                          m_config.start_timeout + seconds(30));
  if (!port) {
    discard_warm(member, port.error().message);
    return false;
  }
  std::lock_guard lock(m_mutex);
  member->info.warm_browser_port = *port;
  return true;
}

// A browser frozen the moment it first answers still has its start-up to
// finish, and finishes it at its claim: measured here, a chromedriver's
// attach then took a median 76-125 ms instead of 17-21 ms, and a chrome
// member's first page (connect, new page, evaluate) 238 ms instead of 69 ms
// (medians of 10, cgroupfs). So a member of either kind is
// frozen once its cgroup's CPU use is quiet (under 10 % over 100 ms), or
// after kSettleMost regardless: the pool's refill is in the background, the
// claim is what a bot waits for.
void SessionManager::settle_before_freezing(const EntryPtr& member) {
  constexpr auto kWindow = milliseconds(100), kSettleMost = milliseconds(3000);
  auto deadline = steady_clock::now() + kSettleMost;
  auto used = m_backend.stats(member->info.scope).cpu_usage_usec;
  while (used && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kWindow);
    auto now = m_backend.stats(member->info.scope).cpu_usage_usec;
    if (!now || *now - *used < duration_cast<microseconds>(kWindow).count() / 10) return;
    used = now;
  }
}

// Where the backend cannot freeze at all (systemd on a hybrid host), the
// pool still serves, with members that wait unfrozen: said once, and in
// /v1/usage. Any other failure discards the member.
bool SessionManager::freeze_warm(const EntryPtr& member) {
  if (!m_warm_freezes) return false;
  auto frozen = m_backend.freeze(member->info.scope);
  if (frozen) return true;
  if (frozen.error().code == EOPNOTSUPP) {
    spdlog::warn("warm browsers wait unfrozen (they use some CPU while they wait): {}", frozen.error().message);
    std::lock_guard lock(m_mutex);
    m_warm_freezes = false;
    return false;
  }
  discard_warm(member, "it did not freeze: " + frozen.error().message);
  return false;
}

SessionManager::EntryPtr SessionManager::take_warm_member(const SessionRequest& request) {
  auto target = m_config.warm.find(request.kind);
  if (target == m_config.warm.end() || target->second == 0) return nullptr;  // not kept warm: no count
  if (auto why = warm_miss_reason(request)) {
    m_warm_counters.miss(request.kind);
    spdlog::debug("warm {}: a miss, {}", browser_kind_name(request.kind), *why);
    return nullptr;
  }
  std::lock_guard lock(m_mutex);
  // A byte cap needs a way out that can stop bytes (not the kernel way out's: network_cap_possible).
  bool capped = request.network_max_bytes.has_value();
  auto ready = std::find_if(m_warm_ready.begin(), m_warm_ready.end(), [&](const EntryPtr& entry) {
    return entry->info.request.kind == request.kind && (!capped || entry->browser->network_cap_possible());
  });
  if (ready == m_warm_ready.end()) {
    if (capped && std::any_of(m_warm_ready.begin(), m_warm_ready.end(), [&](const EntryPtr& entry) {
          return entry->info.request.kind == request.kind;
        }))
      spdlog::debug("warm {}: a miss, its byte cap needs the egress relay, which the members lack",
                    browser_kind_name(request.kind));
    m_warm_counters.miss(request.kind);
    return nullptr;
  }
  auto member = *ready;
  m_warm_ready.erase(ready);
  return member;
}

// A member that cannot be handed out is discarded, never given back to the
// pool: whatever went wrong with it may not show the next time.
Result<SessionInfo> SessionManager::claim_or_open_cold(const EntryPtr& member, const SessionRequest& request,
                                                       milliseconds wait) {
  auto claimed = claim(member, request);
  if (claimed) return claimed;
  discard_warm(member, claimed.error().message);
  m_warm_counters.miss(request.kind);
  auto memory = request.limits.with_defaults(m_config.default_limits).memory_max.value_or(0);
  return finish_open(request, m_admission.admit(memory, wait));
}

Result<SessionInfo> SessionManager::claim(const EntryPtr& member, const SessionRequest& request) {
  auto began = steady_clock::now();
  Scope scope = member->info.scope;  // set once at its start
  Limits limits = request.limits.with_defaults(m_config.default_limits);
  // Reclaiming memory from a frozen browser would stall the claim on the
  // kernel; a cold start is the honest answer.
  auto used = m_backend.stats(scope).memory_current;
  if (limits.memory_max && used && *used > *limits.memory_max)
    return Error::make(ENOSPC, "its memory_max is below the " + std::to_string(*used >> 20) + " MiB it uses already");
  if (!m_admission.resize(member->ticket, limits.memory_max.value_or(0)))
    return Error::make(ENOSPC, "its memory_max does not fit the memory budget");
  CORRAL_TRY(m_backend.set_limits(scope, limits));
  auto limited = steady_clock::now();
  if (member->frozen) CORRAL_TRY(m_backend.thaw(scope));
  auto thawed = steady_clock::now();
  CORRAL_TRY(member->browser->still_listening());  // its endpoints are the ones it had when frozen
  auto answered = steady_clock::now();
  auto enforced = m_backend.enforced(scope);
  SessionInfo info;
  {
    std::lock_guard lock(m_mutex);
    // An exit while thawing is on_browser_exit's: the member is closing.
    if (member->info.state != SessionState::running || member->info.exit)
      return Error::make(ECHILD, "it ended while being handed out");
    member->info.enforced = enforced;
    hand_over(*member, request, limits);
    info = member->info;
  }
  member->browser->restart_network_counts();  // it owes nothing it moved while warm
  cap_network(member);                          // the request's cap, from zero
  persist();  // on disk (written and renamed) before the answer: a restart adopts it as a session
  auto persisted = steady_clock::now();
  m_metrics.session_opened();
  m_usage.browser_started(request.kind, request.labels, steady_clock::now() - began);
  // A chromedriver's hit waits for its attach, which may still fail
  // (warm_attach_fallback.cpp): the WebDriver proxy counts it then.
  if (request.kind != BrowserKind::chromedriver) m_warm_counters.hit(request.kind);
  m_warm_wakeup.notify_all();  // one fewer: refill
  SessionLogScope log_scope(info.id, scope.unit);
  auto ms = [](auto from, auto to) { return duration<double, std::milli>(to - from).count(); };
  spdlog::info("session {} opened warm: kind={} unit={} cgroup={} pid={} in {:.1f} ms (limits {:.1f}, thaw {:.1f}, "
               "still listening {:.1f}, state file {:.1f})", info.id, browser_kind_name(request.kind),
               scope.unit.empty() ? "-" : scope.unit, scope.cgroup.string(), info.pid, ms(began, persisted),
               ms(began, limited), ms(limited, thawed), ms(thawed, answered), ms(answered, persisted));
  return info;
}

void SessionManager::hand_over(Entry& member, const SessionRequest& request, const Limits& limits) {
  SessionInfo& info = member.info;
  info.request = request;
  info.limits = limits;
  info.access_secret = new_access_secret();  // the member's was never shown; a new one all the same
  info.created_at = system_clock::now();
  info.ttl = request.ttl.value_or(m_config.default_ttl);
  info.idle_timeout = request.idle_timeout.value_or(m_config.default_idle_timeout);
  info.expires_at = info.created_at + info.ttl;
  info.network_max_bytes = request.network_max_bytes ? request.network_max_bytes : m_config.default_network_max_bytes;
  if (!m_config.network_counted) info.network_max_bytes.reset();
  member.expires = steady_clock::now() + info.ttl;
  member.renew(steady_clock::now());
  member.warm = false;
  member.frozen = false;
  member.announced = true;
  m_closer_wakeup.notify_one();  // a new deadline to watch
}

bool SessionManager::discard_warm(const EntryPtr& member, const std::string& why) {
  {
    std::lock_guard lock(m_mutex);
    std::erase(m_warm_ready, member);
    if (!mark_closing(*member)) return false;  // on_browser_exit's, or shutdown's
  }
  m_warm_counters.discarded(member->info.request.kind);
  spdlog::warn("warm {} {} discarded: {}", browser_kind_name(member->info.request.kind), member->info.id, why);
  m_background_closes.post([this, member] { end_session(member, CloseReason::warm_discarded, milliseconds(0)); });
  return true;
}

bool SessionManager::give_warm_place_back() {
  EntryPtr member;
  {
    std::unique_lock lock(m_mutex);
    if (m_warm_ready.empty()) {
      auto ticket = take_starting_place();
      lock.unlock();
      // Released without m_mutex: the place goes to a waiting open at once,
      // whose start takes m_mutex.
      if (!ticket) return false;
      ticket->release();
      return true;
    }
    member = m_warm_ready.front();
    m_warm_ready.pop_front();
    if (!mark_closing(*member)) return true;  // its exit freed, or frees, the place
  }
  m_warm_counters.discarded(member->info.request.kind);
  spdlog::info("warm {} {} gives way to a cold open", browser_kind_name(member->info.request.kind), member->info.id);
  auto ticket = std::move(member->ticket);
  m_background_closes.post([this, member] { end_session(member, CloseReason::warm_discarded, milliseconds(0)); });
  ticket.release();
  return true;
}

// A refill takes a place only when nobody waits and one is free, but its
// start (and a chromedriver's browser, and settling) takes seconds: a cold
// open that comes meanwhile and finds no room would wait for it, or fail
// (Grid's --new-session-wait 2s did). So the member starting gives its
// place at once, as a ready one would; the host holds it and the new start
// together until its refill ends it. Under m_mutex.
std::optional<Admission::Ticket> SessionManager::take_starting_place() {
  for (auto& [id, entry] : m_live) {
    if (!entry->refilling || entry->gave_way || entry->info.state == SessionState::closing ||
        entry->info.state == SessionState::closed)
      continue;
    entry->gave_way = true;
    m_warm_counters.discarded(entry->info.request.kind);
    spdlog::info("warm {} {}, still starting, gives way to a cold open", browser_kind_name(entry->info.request.kind),
                 id);
    return std::move(entry->ticket);
  }
  return std::nullopt;
}

bool SessionManager::ended_for_giving_way(const EntryPtr& member) {
  {
    std::lock_guard lock(m_mutex);
    if (!member->gave_way) return false;
    if (!mark_closing(*member)) return true;  // on_browser_exit's, or shutdown's
  }
  m_background_closes.post([this, member] { end_session(member, CloseReason::warm_discarded, milliseconds(0)); });
  return true;
}

std::vector<WarmStatus> SessionManager::warm_status() const {
  std::vector<WarmStatus> statuses;
  std::lock_guard lock(m_mutex);
  for (const auto& [kind, target] : m_config.warm) {
    auto ready = std::count_if(m_warm_ready.begin(), m_warm_ready.end(),
                               [kind](const EntryPtr& entry) { return entry->info.request.kind == kind; });
    statuses.push_back(m_warm_counters.status(kind, target, ready));
    statuses.back().frozen = m_warm_freezes;
  }
  return statuses;
}

std::string SessionManager::render_warm_metrics() const {
  std::map<BrowserKind, size_t> ready;
  for (const auto& status : warm_status()) ready[status.kind] = status.ready;
  return ready.empty() ? "" : m_warm_counters.render(ready);
}

}  // namespace corral
