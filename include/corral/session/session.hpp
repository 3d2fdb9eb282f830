// The session model: what a client asks for, what the daemon knows about a
// running session, and what closing it found.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "corral/egress/dns_forwarder.hpp"
#include "corral/egress/egress_relay.hpp"
#include "corral/launch/browser_ready.hpp"
#include "corral/net/session_connector.hpp"
#include "corral/cgroup/cgroup.hpp"
#include "corral/launch/chrome_flags.hpp"
#include "corral/launch/child_watcher.hpp"
#include "corral/cgroup/limits.hpp"
#include "corral/backend/scope_backend.hpp"

namespace corral {

/// A validated POST /v1/sessions body.
struct SessionRequest {
  BrowserKind kind = BrowserKind::chrome;
  Limits limits;  ///< only what the client asked for; defaults are added later
  std::vector<std::string> args;
  std::map<std::string, std::string> labels;
  std::optional<std::chrono::milliseconds> ttl;           ///< lifetime; daemon default if unset
  std::optional<std::chrono::milliseconds> idle_timeout;  ///< without requests; daemon default if unset
  /// Where the session's pages go out (docs/network.md, "A proxy per
  /// session"); unset: straight out. Shown and recorded only redacted()
  /// (read back from the state file, its password is "***": the real one
  /// is in a kernel key, proxy_keys.hpp).
  std::optional<UpstreamProxy> proxy;
  EgressLists egress;  ///< the session's narrowing of the egress policy, as asked (names unresolved)
  std::optional<uint64_t> network_max_bytes;  ///< bytes in and out through its way out; daemon default if unset
  /// Why a warm chromedriver cannot serve this request; empty: it can. Only
  /// a WebDriver new session whose capabilities attaching honours clears it
  /// (src/webdriver/capabilities.cpp): a kind=chromedriver POST /v1/sessions
  /// wants a chromedriver of its own to start its browser. Never read from
  /// a body, never recorded.
  std::string warm_attach_miss = "it is not a WebDriver new session";
};

enum class SessionState { starting, running, closing, closed };
const char* session_state_name(SessionState state);

/// Why a session ended.
/// `disconnected`: the client whose connection launched it went away (connect-to-launch).
/// `network_limit`: its pages moved more than its network_max_bytes.
/// `warm_discarded`: a warm browser killed unclaimed (it gave way, or failed a check).
enum class CloseReason { client, expired, idle, browser_exited, oom, shutdown, start_failed, disconnected,
                         network_limit, warm_discarded };
const char* close_reason_name(CloseReason reason);

/// Where a close spent its time, in milliseconds, step by step.
struct ClosePhases {
  double grace = 0;   ///< SIGTERM and the wait for the browser to end
  double stats = 0;   ///< reading peak memory and OOM kills before the kill
  double kill = 0;    ///< cgroup.kill until "populated 0": the kernel's teardown
  double verify = 0;  ///< reading cgroup.events and cgroup.procs back
  double scope = 0;   ///< removing the scope (rmdir, or StopUnit until UnitRemoved)
  double files = 0;   ///< moving the session's directories out of the way
};

/// What the verified cleanup of one session found and did.
struct CloseReport {
  std::string id;
  CloseReason reason = CloseReason::client;
  bool graceful = false;           ///< the browser ended on SIGTERM within the grace period
  uint64_t processes_killed = 0;   ///< processes cgroup.kill had to end
  bool verified_empty = false;     ///< populated 0 and cgroup.procs empty after the kill
  std::vector<pid_t> stuck_pids;   ///< still there after two kills (D state, ...)
  bool scope_removed = false;      ///< unit unloaded / cgroup dir gone
  bool dirs_removed = false;       ///< profile, tmp and home removed
  int64_t duration_ms = 0;         ///< the whole close, up to the answer
  ClosePhases phases;
  std::optional<uint64_t> memory_peak;
  std::optional<uint64_t> oom_kills;
  std::optional<uint64_t> cpu_usage_usec;  ///< CPU the session used in all, read just before the kill
  /// What its pages moved through its way out, in all (since it opened, or
  /// since its adoption after a restart); none without a way out.
  std::optional<uint64_t> network_bytes_in, network_bytes_out;
  std::vector<std::string> problems;  ///< what went wrong, for the operator
  /// What still runs after the answer: "files" (freeing the space of the
  /// directories, already moved out of the session's reach), "state_file".
  /// Empty in the final report that GET shows.
  std::vector<std::string> pending;

  /// Everything the session had is gone.
  bool clean() const { return verified_empty && scope_removed && dirs_removed; }
};

/// A copy of what the daemon knows about a session, safe to hand to the HTTP layer.
/// A WebDriver client's session on a session's chromedriver: which
/// chromedriver session it is and which browser that drives. Part of the
/// session's record (not of what the launch found: a client makes it
/// later), so that a session adopted after a restart still answers its
/// WebDriver client.
struct DriverBinding {
  std::string driver_id;      ///< chromedriver's session id
  uint16_t debugger_port = 0; ///< the browser's DevTools port; 0 if unknown
  std::string browser_path;   ///< its browser target: "/devtools/browser/<uuid>"
};

/// The egress policy a session's way out judges by, readable: the
/// operator's lists and the session's own, each entry as written (a name
/// with what it resolved to).
struct EgressPolicyView {
  std::vector<std::string> allow, deny;                  ///< --egress-allow, --egress-deny
  std::vector<std::string> session_allow, session_deny;  ///< the session's "egress"
};

struct SessionInfo {
  std::string id;
  SessionRequest request;
  Limits limits;  ///< in force: request plus daemon defaults
  SessionState state = SessionState::starting;
  Scope scope;
  pid_t pid = -1;
  std::optional<uid_t> uid;  ///< the session's own uid, when sessions do not share one
  Endpoints endpoints;
  /// Where `endpoints` listen: the session's own network namespace, or
  /// corrald's (empty). Not persisted: found again from the pid on adoption.
  SessionNetwork network;
  std::optional<DriverBinding> driver;  ///< once a WebDriver client opened its session
  /// Opens this session's DevTools and WebDriver through corral, and
  /// nothing else: URLs that corral hands out carry it instead of the API
  /// token (clients log URLs). new_access_secret(); never logged.
  std::string access_secret;
  Controllers enforced;
  std::chrono::system_clock::time_point created_at;
  std::chrono::milliseconds ttl{0}, idle_timeout{0};
  std::chrono::system_clock::time_point expires_at;       ///< created_at + ttl
  std::chrono::system_clock::time_point idle_expires_at;  ///< last request + idle_timeout
  std::optional<ExitStatus> exit;        ///< how the main process ended, once it has
  std::optional<CloseReport> report;     ///< once closed
  std::optional<CgroupStats> stats;      ///< live use, for GET of one session
  std::optional<EgressCounters> egress;  ///< its way out's counts, live; none without a way out
  std::optional<DnsCounters> dns;        ///< its resolver's counts, live; none without one
  /// Until when a person at the console drives the session's page (Take
  /// over); the console renews it while they do. Not persisted.
  std::chrono::steady_clock::time_point console_control_until{};
  /// The policy its way out judges by; none without a policy (shared network).
  std::optional<EgressPolicyView> egress_policy;
  std::optional<uint64_t> network_max_bytes;  ///< in force: request or daemon default; none: no cap
  /// A claimed warm chromedriver's: the DevTools port (on the session's
  /// loopback) of the browser corral had it start, for the WebDriver new
  /// session to attach to; 0 otherwise. Not persisted: once attached, the
  /// session's DriverBinding says it.
  uint16_t warm_browser_port = 0;
};

}  // namespace corral
