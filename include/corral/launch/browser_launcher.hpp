// BrowserLauncher and BrowserProcess: the session manager's only way to
// start, watch and end a browser on the host. HostBrowserLauncher
// (host_launcher.hpp) is the real one; tests/unit/fakes has a fake, so the
// manager's state machine is tested without forking anything.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "corral/egress/dns_forwarder.hpp"
#include "corral/egress/egress_relay.hpp"
#include "corral/launch/browser_ready.hpp"
#include "corral/launch/child_watcher.hpp"
#include "corral/launch/chrome_flags.hpp"
#include "corral/launch/uid_pool.hpp"
#include "corral/net/session_connector.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// What to start for one session.
struct BrowserRequest {
  std::string session_id;
  BrowserKind kind = BrowserKind::chrome;
  std::vector<std::string> args;  ///< the client's extra flags, already allowlisted
  /// chromedriver's --url-base: "/" and a secret, so that knowing its port
  /// is not enough to drive it (pages, local users). Never logged.
  std::string driver_url_base;
  /// The session's upstream proxy: its way out carries every connection
  /// there (egress_relay.hpp); unset: straight out.
  std::optional<UpstreamProxy> proxy;
  /// The session's own egress lists, names resolved: its way out judges
  /// by them after the operator's policy (egress_policy.hpp).
  EgressLists egress;
  /// A cap on its bytes applies (network_max_bytes, its own or the
  /// default): only the relay enforces one (kernel_way_out.hpp).
  bool network_capped = false;
};

/// One session's browser: its main process and its files (profile, tmp,
/// home, log). Spawned waiting at a gate, so that nothing of it runs before
/// its cgroup exists.
class BrowserProcess {
 public:
  virtual ~BrowserProcess() = default;
  virtual pid_t pid() const = 0;
  /// When the main process started (clock ticks since boot): tells it from a
  /// later process that got the same PID.
  virtual uint64_t start_time() const = 0;
  /// The uid this session has to itself, from the pool; nullopt when
  /// sessions share one (see uid_pool.hpp).
  virtual std::optional<uid_t> own_uid() const = 0;
  /// Open the gate: the child execs the browser. Fails with the errno of the
  /// step that failed (its namespaces, dropping privileges, chdir, exec).
  virtual Result<void> release() = 0;
  /// Where corrald reaches the session's ports: its own network namespace
  /// once release() succeeded (--session-network own), else corrald's.
  virtual SessionNetwork network() const { return {}; }
  /// What its pages did through its way out (session_way_out.hpp); nullopt
  /// when it has none. From any thread.
  virtual std::optional<EgressCounters> egress() const { return std::nullopt; }
  /// What its resolver answered (session_resolver.hpp); nullopt when it has
  /// none. From any thread.
  virtual std::optional<DnsCounters> dns() const { return std::nullopt; }
  /// Cap the bytes its pages move through its way out (in and out
  /// together): past `max_bytes` its connections out close and `over_cap`
  /// runs once, from another thread. Before release() it waits for the way
  /// out to open; after, it applies at once. Without a way out it does
  /// nothing (the manager refuses a cap where sessions have none).
  virtual void cap_network(uint64_t /*max_bytes*/, std::function<void()> /*over_cap*/) {}
  /// Whether cap_network can hold this browser's way out to a cap: the
  /// kernel way out counts bytes but cannot stop them, so a warm member on
  /// it must not be handed to a request with a cap.
  virtual bool network_cap_possible() const { return true; }
  /// Its way out's and resolver's counts from zero again: a warm browser
  /// is handed out owing nothing it moved while it waited.
  virtual void restart_network_counts() {}
  /// Count `bytes_in` and `bytes_out` as moved already, against its cap too:
  /// what an adopted session moved under the corrald before (a crash loses
  /// the counts since its last checkpoint only). From any thread.
  virtual void count_earlier_bytes(uint64_t /*bytes_in*/, uint64_t /*bytes_out*/) {}
  /// Wait until the browser answers (DevTools or WebDriver). ECHILD if it
  /// exits first, ETIMEDOUT after `timeout`.
  virtual Result<Endpoints> wait_until_ready(std::chrono::milliseconds timeout) = 0;
  /// Once ready and since frozen and thawed (a warm browser at its claim):
  /// its process lives and its port still takes connections, without the
  /// cost of an answer (browser_ready.hpp, devtools_still_listening).
  virtual Result<void> still_listening() = 0;
  /// A warm chromedriver only (warm_driver.hpp): have it start its browser
  /// with `new_session_body`; the browser's DevTools port on the session's
  /// loopback, which still_listening() checks from then on. ENOTSUP for a
  /// browser that is not a chromedriver.
  virtual Result<uint16_t> start_warm_driver_browser(const std::string& /*new_session_body*/,
                                                     std::chrono::milliseconds /*timeout*/) {
    return Error::make(ENOTSUP, "only a chromedriver starts a browser of its own");
  }
  /// SIGTERM the main process; true if it ended within `grace`.
  virtual bool ask_to_exit(std::chrono::milliseconds grace) = 0;
  /// SIGKILL the main process and wait briefly until it has ended; true if
  /// it has. For a child that never got a cgroup, which cgroup.kill cannot
  /// reach: it still waits at the gate, so it has no children.
  virtual bool kill() = 0;
  /// The end of the browser's log, to say why it did not start.
  virtual std::string log_tail() const = 0;
  /// Take the session's files away from where the session had them, at
  /// once (a rename); remove_set_aside_files() frees their space later.
  /// Succeeds when they are gone already.
  virtual Result<void> remove_files() = 0;
};

class BrowserLauncher {
 public:
  using ExitCallback = std::function<void(ExitStatus)>;
  virtual ~BrowserLauncher() = default;

  /// Make the session's files and fork its browser, waiting at the gate,
  /// as a uid of its own when the pool separates sessions (ENOSPC when no
  /// uid is free). Nothing is left behind when it fails. ENOEXEC: no such
  /// browser here.
  virtual Result<std::unique_ptr<BrowserProcess>> spawn(const BrowserRequest& request) = 0;
  /// Whether a session may use `proxy`, before anything of it exists:
  /// EBADMSG when the egress policy refuses the proxy's address, EINVAL
  /// when this launcher's sessions have no way out to carry one.
  virtual Result<void> admit_proxy(const UpstreamProxy& proxy) {
    return Error::make(EINVAL, "proxy " + proxy.redacted() + ": these sessions have no way out to carry a proxy");
  }
  /// After a restart: the browser an earlier run started, if `pid` is still
  /// alive and the same process (`start_time`) and its files are there; it
  /// takes back `uid`, the session's own uid then, and its way out judges
  /// by `egress` again (as BrowserRequest::egress).
  virtual Result<std::unique_ptr<BrowserProcess>> reattach(const std::string& session_id, pid_t pid,
                                                           uint64_t start_time, std::optional<uid_t> uid,
                                                           const EgressLists& egress) = 0;
  /// A closed session's own uid: swept of what the session left outside
  /// its directories and given back to the pool, or, when anything stays
  /// (or `session_emptied` is false: its cgroup was not verified empty),
  /// quarantined, with why.
  virtual Result<void> release_uid(uid_t uid, bool session_emptied) = 0;
  /// After recovery: pool uids no adopted session holds but that own
  /// leftovers or processes are swept, or quarantined.
  virtual Result<void> reclaim_uids() = 0;
  virtual UidPoolStatus uid_pool() const = 0;
  /// True for a uid that sessions run as (never the daemon's own).
  virtual bool is_session_uid(uid_t uid) const = 0;
  /// Call `on_exit` once, from another thread, when the main process ends.
  /// The launcher keeps what it needs to notice that: the session need not.
  virtual void watch_exit(const BrowserProcess& browser, ExitCallback on_exit) = 0;
  /// Remove the files of every session whose id is not in `keep` (those an
  /// earlier run left behind).
  virtual Result<void> remove_files_except(const std::set<std::string>& keep) = 0;
  /// Free the space of files remove_files() took away: slow for a big
  /// profile, so it runs after a close has answered.
  virtual Result<void> remove_set_aside_files() = 0;
};

}  // namespace corral
