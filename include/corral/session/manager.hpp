// SessionManager: the core. Opens sessions (browser at its gate → scope →
// release → wait until the browser answers), tracks them, and closes them
// with the verified cleanup: on request, when the browser ends by itself,
// when a lease runs out, and at shutdown. Knows nothing of HTTP; talks to
// the host only through ScopeBackend and BrowserLauncher, so tests drive it
// with fakes of both (tests/unit/session/test_manager*.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "corral/backend/scope_backend.hpp"
#include "corral/launch/browser_launcher.hpp"
#include "corral/session/admission.hpp"
#include "corral/session/cleanup.hpp"
#include "corral/session/metrics.hpp"
#include "corral/egress/egress_names.hpp"
#include "corral/egress/egress_policy.hpp"
#include "corral/session/records.hpp"
#include "corral/session/session.hpp"
#include "corral/session/usage_metrics.hpp"
#include "corral/session/warm_pool.hpp"
#include "corral/util/work_queue.hpp"

namespace corral {

/// What recover() found.
struct RecoveryReport {
  size_t adopted = 0;  ///< sessions listed, closable and leased again
  size_t reaped = 0;   ///< scopes killed and removed: no usable record, or browser gone
  std::string state_file_problem;  ///< why the state file was not used, if it was not
};

struct SessionManagerConfig {
  std::filesystem::path state_dir;   ///< holds the state file
  Limits default_limits;             ///< applied where a request sets none
  bool allow_unenforced_limits = false;
  std::chrono::milliseconds start_timeout{60000};
  std::chrono::milliseconds default_grace{2000};
  std::chrono::milliseconds kill_wait{5000};
  size_t closed_history = 256;       ///< closed sessions kept so GET can say why
  AdmissionLimits admission;
  std::chrono::milliseconds default_ttl{std::chrono::hours(1)};
  std::chrono::milliseconds max_ttl{std::chrono::hours(24)};
  std::chrono::milliseconds default_idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds max_idle_timeout{std::chrono::hours(24)};
  UsageMetricsConfig usage_metrics;
  /// The operator's egress policy that sessions' own lists narrow
  /// (session_egress.hpp); null when sessions share corrald's network.
  const EgressPolicy* egress_policy = nullptr;
  /// Resolves the names in sessions' egress lists (a test gives its own).
  NameResolver egress_names = resolve_by_system;
  /// Sessions' pages leave through a way out that counts their bytes (a
  /// network of their own): only then can network_max_bytes be enforced.
  bool network_counted = false;
  std::optional<uint64_t> default_network_max_bytes;  ///< for a request without one; none: no cap
  std::optional<uint64_t> max_network_max_bytes;      ///< the most a request may ask for; none: no maximum
  /// --warm: browsers kept started and frozen per kind, handed to matching
  /// opens (warm_pool.cpp). Kept from recover() on.
  WarmTargets warm;
  /// The new-session body a warm chromedriver starts its browser with: what
  /// a cold WebDriver session with no capabilities of its own forwards
  /// (corrald builds it with plan_new_session). Empty: chromedriver is not kept warm.
  std::string warm_driver_session;
};

class SessionManager {
 public:
  /// Closes nobody waits for that run at once (expired, idle or crashed
  /// sessions, and a client's close without wait); more wait their turn.
  static constexpr size_t kBackgroundCloses = 4;
  /// How often the state file takes the sessions' network counts, when
  /// they moved: what a crash of corrald loses of them (network_checkpoint.cpp).
  static constexpr std::chrono::seconds kNetworkCheckpoint{2};

  SessionManager(ScopeBackend& backend, BrowserLauncher& launcher, SessionManagerConfig config);
  ~SessionManager();

  /// At start: adopt the sessions an earlier run left running (those the
  /// state file and the host agree on) and reap every other corral-* scope
  /// and session dir. See recovery.cpp.
  Result<RecoveryReport> recover();

  /// EOPNOTSUPP: an explicit limit the host cannot enforce (a network cap
  /// without a way out to count at); EINVAL: a ttl, idle timeout or
  /// network_max_bytes above the daemon's maximum; ENOSPC: no room within `wait`;
  /// EAGAIN: shutting down; ECHILD/ETIMEDOUT: the browser did not come up;
  /// ENOEXEC: no such browser here; EIO: the host failed. Whatever fails,
  /// nothing of the session is left.
  Result<SessionInfo> open(const SessionRequest& request, std::chrono::milliseconds wait = {});
  /// Runs a piece of blocking work somewhere other than the caller's thread.
  using Executor = std::function<void(std::function<void()>)>;
  using Opened = std::function<void(Result<SessionInfo>)>;
  /// open() for a caller that must not block (an I/O thread): `opened` runs
  /// exactly once, with open()'s results. The checks and the admission run
  /// here; the browser start runs as a task given to `run`. A request that
  /// waits for room holds no thread, only its place in the queue: the
  /// waiter is returned, and the caller gives it up when `wait` runs out
  /// (give_up_waiting, from its own timer; until then nothing times it
  /// out). Errors known at once (and EAGAIN at shutdown, from the thread
  /// that shuts down) reach `opened` without `run`.
  Admission::WaiterPtr open_async(const SessionRequest& request, std::chrono::milliseconds wait, Executor run,
                                  Opened opened);
  /// The wait of an open_async ran out: it is answered ENOSPC, if still waiting.
  void give_up_waiting(const Admission::WaiterPtr& waiter) { m_admission.give_up(waiter); }
  /// A claimed warm chromedriver's browser took the bot's WebDriver session:
  /// the pool's hit is counted now (a claim of that kind is not one yet, as
  /// its attach may still fail: open_cold_after_failed_attach).
  void warm_attach_succeeded(BrowserKind kind) { m_warm_counters.hit(kind); }
  /// A claimed warm chromedriver (session `id`) refused, or failed, the
  /// attach to its browser: the member ends as a failed start, the pool
  /// counts a miss (`why` in the log), and `request` (the one the claim
  /// served) opens cold, never from the pool, in the member's place (its
  /// admission ticket: a full --max-sessions does not refuse the retry;
  /// should the member be ending already, its end frees the place, waited
  /// for up to `wait`). Blocking, as open(): off the I/O threads
  /// (warm_attach_fallback.cpp).
  Result<SessionInfo> open_cold_after_failed_attach(const std::string& id, const SessionRequest& request,
                                                    const std::string& why, std::chrono::milliseconds wait);
  /// With live cgroup stats. ENOENT for an unknown id.
  Result<SessionInfo> get(const std::string& id) const;
  /// A request on the session: its idle timeout starts again.
  Result<void> renew(const std::string& id);
  /// Open sessions, with live cgroup stats for the running ones.
  std::vector<SessionInfo> list() const;
  /// The sessions closed last (up to closed_history), oldest first.
  std::vector<SessionInfo> recently_closed() const;
  /// Mark a running session as driven from the console until `until` (a
  /// time past clears the mark). ENOENT unknown; EALREADY not running.
  Result<void> mark_console_control(const std::string& id, std::chrono::steady_clock::time_point until);
  /// ENOENT unknown; EALREADY closed or closing; EBUSY still starting.
  Result<CloseReport> close(const std::string& id, std::optional<std::chrono::milliseconds> grace);
  /// The same close, for a client that does not wait for it: the session is
  /// marked closing and returned as such at once; the cleanup runs on a
  /// worker and its report is at get() once done. Errors as for close().
  Result<SessionInfo> close_in_background(const std::string& id, std::optional<std::chrono::milliseconds> grace,
                                          CloseReason reason = CloseReason::client);
  /// A client opened a proxied connection to the session's browser (DevTools,
  /// WebDriver). While any is open the session is not idle; its ttl still
  /// holds. ENOENT unknown; EALREADY closing or closed; EBUSY starting.
  Result<SessionInfo> begin_connection(const std::string& id);
  /// begin_connection for one proxied WebDriver command: the same checks
  /// and count, but only the session's end (expires_at), not a copy of
  /// all it knows, on every command.
  Result<std::chrono::system_clock::time_point> begin_command(const std::string& id);
  /// One such connection ended: the idle timeout starts again from now.
  void end_connection(const std::string& id);
  /// The WebDriver session a client opened on this session's chromedriver,
  /// written to the state file. ENOENT unknown; EALREADY no longer running.
  Result<void> bind_driver(const std::string& id, DriverBinding driver);
  /// `listener` is told the id of each session as it starts to close, for
  /// any reason, so that proxied connections to it end at once. Called
  /// under the manager's lock: it must only hand the id on (post it, forget
  /// it), never call the manager. Returns a handle for
  /// remove_closing_listener.
  int add_closing_listener(std::function<void(const std::string& id)> listener);
  void remove_closing_listener(int handle);
  /// Refuse new sessions from now on, and send requests that wait for room
  /// away (EAGAIN). close_all() does this too; call it first when requests
  /// must drain before close_all() runs.
  void refuse_new_sessions();
  /// Refuse new sessions and close every open one (in parallel).
  void close_all();

  const ScopeBackend& backend() const { return m_backend; }
  UidPoolStatus uid_pool() const { return m_launcher.uid_pool(); }
  const SessionManagerConfig& config() const { return m_config; }
  size_t open_count() const;
  const Metrics& metrics() const { return m_metrics; }
  MetricsGauges gauges() const;
  const UsageMetrics& usage_metrics() const { return m_usage; }
  /// The warm pool, per kind kept warm (none without --warm).
  std::vector<WarmStatus> warm_status() const;
  /// The warm pool's /metrics families; "" without --warm.
  std::string render_warm_metrics() const;

 private:
  struct Entry;
  using EntryPtr = std::shared_ptr<Entry>;

  // Opening (manager.cpp).
  Result<void> check_request(const SessionRequest& request) const;
  Result<void> check_network_cap(const SessionRequest& request) const;
  /// The checks open() makes before admission; its memory_max on success.
  Result<uint64_t> prepare_open(const SessionRequest& request) const;
  /// What follows admission: start the browser with the ticket, or report why there is none.
  Result<SessionInfo> finish_open(const SessionRequest& request, Result<Admission::Ticket> ticket);
  /// `egress`: the session's own lists, settled (session_egress.hpp).
  /// `warm`: a warm browser's start, unlisted until claimed.
  Result<EntryPtr> start(const SessionRequest& request, const EgressLists& egress, Admission::Ticket ticket,
                         bool warm = false);
  EntryPtr make_entry(const SessionRequest& request, const std::string& id, std::unique_ptr<BrowserProcess> browser);
  Result<void> place_in_scope(const EntryPtr& entry);
  Result<void> bring_up(const EntryPtr& entry);
  /// The one undo path of a failed open, whatever step it reached.
  Error abandon_start(const EntryPtr& entry, CloseReason reason, Error why);
  /// A session by id: never a warm browser, which nobody may name.
  EntryPtr find(const std::string& id) const;
  /// Under m_mutex: the entry, counted one more proxied connection, if it runs.
  Result<EntryPtr> count_connection(const std::string& id);
  /// Any entry by id, warm or not (exits, the closer).
  EntryPtr find_any(const std::string& id) const;
  /// Rewrite the state file from the running sessions. Call without m_mutex.
  void persist();

  // The network counts on disk (network_checkpoint.cpp).
  /// The bytes the entry's way out has moved, if it has one.
  static std::optional<EgressCounters> network_counts_of(const std::shared_ptr<BrowserProcess>& browser);
  /// Each record's bytes moved so far, from its entry's way out; their sum.
  static uint64_t record_network_counts(std::vector<SessionRecord>& records,
                                        const std::vector<std::shared_ptr<BrowserProcess>>& browsers);
  /// persist() again if any running session's bytes moved since the last
  /// write. The closer thread's, every kNetworkCheckpoint. Call without m_mutex.
  void checkpoint_network_counts();

  // Closing (closing.cpp).
  /// The one place a session becomes `closing`; under m_mutex. False when
  /// it is closing or closed already: someone else owns its cleanup.
  bool mark_closing(Entry& entry);
  /// Clean up a session marked closing, and move it to the history.
  CloseReport end_session(const EntryPtr& entry, CloseReason reason, std::chrono::milliseconds grace);
  void retire(const EntryPtr& entry, const CloseReport& report);
  /// After a close has answered: the state file, and the space of the files.
  void tidy_after_close(const EntryPtr& entry);
  /// close()'s checks; marks the session closing. Under m_mutex.
  Result<EntryPtr> take_for_closing(const std::string& id);
  void on_browser_exit(const std::string& id, ExitStatus status);
  /// Its pages moved more than its network_max_bytes (from the relay's thread).
  void on_network_limit(const std::string& id);
  /// The session's cap handed to its browser's way out, if it has one.
  void cap_network(const EntryPtr& entry);
  CloseReason exit_reason(const Entry& entry) const;
  void run_closer();
  /// Running sessions past their ttl or idle timeout, marked closing.
  std::vector<std::pair<EntryPtr, CloseReason>> take_expired();
  std::chrono::steady_clock::time_point next_expiry() const;

  // The warm pool (warm_pool.cpp).
  void start_warm_pool();
  void stop_warm_pool();
  void run_warm_refill();
  /// Start, and freeze, one warm browser of `kind` if admission has room now.
  bool refill_one(BrowserKind kind);
  /// True once `member` is frozen; false, and it is discarded, if that
  /// failed, or false with m_warm_freezes cleared where nothing freezes.
  bool freeze_warm(const EntryPtr& member);
  /// A warm chromedriver's browser, started through it; false (discarded) if it could not be.
  bool start_warm_driver_browser(const EntryPtr& member);
  /// Wait (up to 3 s) until a new member's CPU use is quiet, so that its
  /// start-up is not left to finish at its claim.
  void settle_before_freezing(const EntryPtr& member);
  size_t warm_members(BrowserKind kind) const;  ///< starting or ready; under m_mutex
  /// A ready member for `request`, taken out of the pool; null for a miss
  /// (counted, where the kind is kept warm).
  EntryPtr take_warm_member(const SessionRequest& request);
  /// Hand `member` to `request`, or discard it and open cold.
  Result<SessionInfo> claim_or_open_cold(const EntryPtr& member, const SessionRequest& request,
                                         std::chrono::milliseconds wait);
  Result<SessionInfo> claim(const EntryPtr& member, const SessionRequest& request);
  /// The member becomes the request's session; under m_mutex.
  void hand_over(Entry& member, const SessionRequest& request, const Limits& limits);
  /// A claimed member whose attach failed, marked closing and ended in the
  /// background (a failed start); its place, if this end is the one that
  /// frees it (nullopt when something else ends it already).
  std::optional<Admission::Ticket> end_failed_attach(const std::string& id);
  /// Kill a warm member unused (in the background). False if it was closing already.
  bool discard_warm(const EntryPtr& member, const std::string& why);
  /// Admission's Reclaim: the oldest ready member gives its place back;
  /// with none ready, one still starting does (take_starting_place).
  bool give_warm_place_back();
  /// A starting member's ticket, the member marked gave_way; under m_mutex.
  std::optional<Admission::Ticket> take_starting_place();
  /// True if `member`'s place went to a cold open while it started; it is
  /// then ended (the refill thread's, between its steps).
  bool ended_for_giving_way(const EntryPtr& member);

  // Recovery (recovery.cpp).
  std::map<std::string, SessionRecord> load_records(RecoveryReport& report);
  Result<void> adopt(const SessionRecord& record, const Scope& scope);
  void adopt_or_reap(const Scope& scope, const std::map<std::string, SessionRecord>& records,
                     RecoveryReport& report);

  ScopeBackend& m_backend;
  BrowserLauncher& m_launcher;
  SessionManagerConfig m_config;
  Admission m_admission;
  Metrics m_metrics;
  UsageMetrics m_usage;

  mutable std::mutex m_mutex;
  std::map<std::string, EntryPtr> m_live;
  std::deque<EntryPtr> m_closed;
  bool m_shutting_down = false;
  std::condition_variable m_live_changed;
  /// Guarded by m_mutex; by add_closing_listener's handle.
  std::map<int, std::function<void(const std::string&)>> m_closing_listeners;
  int m_next_listener = 0;

  // Sessions whose browser ended by itself, or whose time is up, are closed
  // here, off the watcher and HTTP threads.
  std::condition_variable m_closer_wakeup;
  /// When the closer, asleep, wakes by itself; min() while it is awake
  /// (it looks at every entry again before it sleeps). A proxied command
  /// that renews an idle lease wakes it only when the lease now ends
  /// before that: otherwise every WebDriver command cost a wake-up.
  std::chrono::steady_clock::time_point m_closer_due = std::chrono::steady_clock::time_point::min();
  std::deque<std::string> m_to_close;
  bool m_closer_stop = false;
  std::thread m_closer;

  // The warm pool: its ready members, oldest first (guarded by m_mutex),
  // and the thread that refills it.
  std::deque<EntryPtr> m_warm_ready;
  std::condition_variable m_warm_wakeup;
  bool m_warm_stop = false;
  std::thread m_warm_refill;
  WarmCounters m_warm_counters;
  /// False once the backend said it cannot freeze (EOPNOTSUPP): members
  /// wait unfrozen from then on, as /v1/usage says. Refill thread only,
  /// read under m_mutex.
  bool m_warm_freezes = true;

  std::mutex m_persist_mutex;  ///< one writer of the state file at a time, newest last
  uint64_t m_persisted_network_bytes = 0;  ///< the sum the last write held; under m_persist_mutex
  std::chrono::steady_clock::time_point m_next_checkpoint;  ///< of the network counts; the closer's

  // Last, so that they are drained and joined first, while what their tasks
  // use still exists; the closes before the tidy-up they post to.
  WorkQueue m_tidy_up{1};  ///< tidy_after_close, in order
  /// Closes nobody waits for: a client's without wait, and the closer
  /// thread's (expired, idle, crashed). Its threads bound how many run at once.
  WorkQueue m_background_closes{kBackgroundCloses};
};

/// 12 random hex digits.
std::string new_session_id();
/// 128 random bits in hex: a session's access secret (SessionInfo).
std::string new_access_secret();
/// True for strings new_session_id() can return; anything else is unknown.
bool valid_session_id(const std::string& id);

}  // namespace corral
