#include "corral/launch/host_launcher.hpp"

#include <spdlog/spdlog.h>

#include "corral/egress/proxy_admission.hpp"
#include "host_browser_process.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

const std::filesystem::path& program_for(const BrowserPrograms& programs, BrowserKind kind) {
  return kind == BrowserKind::chrome ? programs.chrome : programs.chromedriver;
}

// chromedriver's default port: inside a session's own network nothing else
// listens.
constexpr uint16_t kChromedriverPortInOwnNetwork = 9515;

Result<uint64_t> start_time_of(pid_t pid) {
  auto start_time = process_start_time(pid);
  if (!start_time) return Error::make(ECHILD, "the browser ended before it was tracked");
  return *start_time;
}

}  // namespace

// Discovery walks the filesystems; a host gains a world-writable directory
// rarely, and one inside a known one is found by the sweep's own walk.
constexpr auto kRediscoverAfter = minutes(10);

HostBrowserLauncher::HostBrowserLauncher(HostLauncherConfig config, SessionUidPool pool, ChildWatcher& watcher)
    : m_config(std::move(config)), m_pool(std::move(pool)), m_watcher(watcher),
      m_retries([this](uid_t uid) { return retry_sweep(uid); }) {}

UidPoolStatus HostBrowserLauncher::uid_pool() const {
  auto status = m_pool.status();
  if (!status.separate) return status;
  {
    std::lock_guard lock(m_discovery_mutex);
    status.sweep.discovery = m_discovery;
  }
  status.sweep.retries = m_retries.status();
  return status;
}

std::vector<std::string> HostBrowserLauncher::swept_dirs() {
  {
    std::lock_guard lock(m_discovery_mutex);
    bool never = m_discovery.at == steady_clock::time_point{};
    if (!never && steady_clock::now() - m_discovery.at <= kRediscoverAfter) return m_discovery.dirs;
  }
  // Outside the lock: health reads the last discovery meanwhile. A session's
  // own directories are removed whole by its sweep.
  auto found = discover_writable_dirs({}, [this](uid_t owner) { return m_pool.is_session_uid(owner); });
  spdlog::info("found {} world-writable directories for session uid sweeps in {} ms{}", found.dirs.size(),
               found.took.count(), found.incomplete.empty() ? "" : " (" + found.incomplete + ")");
  std::lock_guard lock(m_discovery_mutex);
  m_discovery = std::move(found);
  return m_discovery.dirs;
}

Result<std::unique_ptr<BrowserProcess>> HostBrowserLauncher::spawn(const BrowserRequest& request) {
  const auto& program = program_for(m_config.programs, request.kind);
  if (program.empty())
    return Error::make(ENOEXEC, std::string("no ") + browser_kind_name(request.kind) +
                                    " binary is configured on this host (install Debian's chromium / chromium-driver, "
                                    "or start corrald with --browser / --chromedriver)");
  uint16_t port = 0;
  if (request.kind == BrowserKind::chromedriver) {
    // Without its secret base, chromedriver would answer anyone who finds its port.
    if (request.driver_url_base.size() < 2 || !request.driver_url_base.starts_with("/"))
      return Error::make(EINVAL, "a chromedriver session needs a secret URL base");
    // In a network of its own, every port is free: a free one of corrald's
    // network would mean nothing there.
    if (m_config.own_network) {
      port = kChromedriverPortInOwnNetwork;
    } else {
      CORRAL_TRY_ASSIGN(port, pick_free_port());
    }
  }
  CORRAL_TRY_ASSIGN(auto user, take_user());
  std::optional<uid_t> own_uid;
  if (m_pool.separate()) own_uid = user->uid;
  // Nothing ran as the uid if the spawn fails: it goes straight back.
  auto give_back = [&] {
    if (own_uid) m_pool.give_back(*own_uid);
  };
  auto dirs = SessionDirs::create(m_config.state_dir, request.session_id, user);
  if (!dirs) {
    give_back();
    return dirs.error();
  }
  if (request.proxy) {
    if (auto remembered = remember_session_proxy(*dirs, request.session_id, *request.proxy); !remembered) {
      (void)dirs->remove();
      give_back();
      return remembered.error();
    }
  }
  auto spec = request.kind == BrowserKind::chrome ? chrome_launch(program, *dirs, request.args, user)
                                                  : chromedriver_launch(program, *dirs, port, request.driver_url_base,
                                                                        request.args, user);
  spec.own_namespaces = m_config.own_network;
  spec.own_user_namespace = m_config.own_user_namespace;
  if (m_config.own_network && !m_config.own_user_namespace && request.kind == BrowserKind::chromedriver &&
      !m_config.nft.empty())
    spec.in_namespaces_first = chromedriver_guard_command(m_config.nft, port);
  // chromedriver gets the way out's flags for its Chrome with the
  // capabilities (CorralBrowser); Chrome itself gets them here.
  bool kernel = kernel_way_out_for(request);
  if (m_config.own_network && request.kind == BrowserKind::chrome && !kernel)
    for (auto& flag : way_out_flags()) spec.argv.insert(spec.argv.end() - 1, std::move(flag));  // before about:blank
  auto wrote = own_resolv_conf(spec, *dirs);
  auto child = wrote ? GatedChild::spawn(spec) : Result<GatedChild>(wrote.error());
  auto start_time = child ? start_time_of(child->pid()) : Result<uint64_t>(child.error());
  auto pidfd = start_time ? child->pidfd().dup() : Result<Pidfd>(start_time.error());
  if (!pidfd) {
    if (child) child->abort();
    if (request.proxy) forget_session_proxy(request.session_id);
    (void)dirs->remove();
    give_back();
    return pidfd.error();
  }
  auto browser = std::make_unique<HostBrowserProcess>(m_config.state_dir, request.kind, *dirs, port,
                                                      request.driver_url_base, std::move(*pidfd), *start_time,
                                                      std::move(*child), own_uid, m_config.own_network, m_config);
  if (user) browser->set_runs_as(user->uid);
  browser->set_proxy(request.proxy);
  browser->set_egress(request.egress);
  if (kernel) browser->set_kernel_way_out(m_config.kernel);
  return std::unique_ptr<BrowserProcess>(std::move(browser));
}

// The kernel way out carries a chrome session that asks for nothing only
// the relay does: a proxy, lists of its own, a byte cap. chromedriver's
// Chrome gets the relay's flags with corrald's capabilities (CorralBrowser),
// fixed at start: it keeps the relay too.
bool HostBrowserLauncher::kernel_way_out_for(const BrowserRequest& request) const {
  if (!m_config.kernel || !m_config.own_network) return false;
  const char* relay_for = request.kind != BrowserKind::chrome ? "a chromedriver session"
                          : request.proxy                       ? "an upstream proxy"
                          : !request.egress.allow.empty() || !request.egress.deny.empty() ? "egress lists of its own"
                          : request.network_capped                                          ? "a byte cap"
                                                                                            : nullptr;
  if (relay_for) spdlog::info("session {}: the egress relay, not the kernel way out: {}", request.session_id, relay_for);
  return relay_for == nullptr;
}

// The session's resolv.conf, naming its resolver, for the gate to bind over
// /etc/resolv.conf: only where a forwarder serves it.
Result<void> HostBrowserLauncher::own_resolv_conf(LaunchSpec& spec, const SessionDirs& dirs) const {
  if (!m_config.own_network || !m_config.dns) return success();
  CORRAL_TRY_ASSIGN(spec.resolv_conf, write_session_resolv_conf(dirs.base, m_config.session_resolv_conf));
  return success();
}

Result<std::unique_ptr<BrowserProcess>> HostBrowserLauncher::reattach(const std::string& session_id, pid_t pid,
                                                                      uint64_t start_time, std::optional<uid_t> uid,
                                                                      const EgressLists& egress) {
  auto dirs = SessionDirs::at(m_config.state_dir, session_id);
  if (!fs::is_directory(dirs.profile)) return Error::make(ENOENT, "its profile dir is gone");
  auto pidfd = Pidfd::open(pid);
  if (!pidfd) return Error::make(ESRCH, "its browser (pid " + std::to_string(pid) + ") is gone");
  if (pidfd->exited()) return Error::make(ESRCH, "its browser (pid " + std::to_string(pid) + ") is gone (exited)");
  // The PID could have been reused since the record was written.
  auto now = process_start_time(pid);
  if (!now || *now != start_time) return Error::make(ESRCH, "pid " + std::to_string(pid) + " is another process now");
  if (uid.has_value() != m_pool.separate())
    return Error::make(ESTALE, "it was started with another kind of session uid pool");
  // Checked like the pid: its namespace, whichever mode this run has. One
  // equal to corrald's own is a session an earlier run started shared.
  auto network = SessionNetwork::of_process(pid);
  if (!network) return Error::make(ESRCH, "its network namespace: " + network.error().message);
  // Not our child: had it ended just now, the pid could name another's namespace.
  if (auto again = process_start_time(pid); !again || *again != start_time)
    return Error::make(ESRCH, "pid " + std::to_string(pid) + " ended while its namespace was opened");
  if (uid) CORRAL_TRY(m_pool.claim(*uid));
  // The kind and port only matter for start-up, which is long over.
  auto adopted = std::make_unique<HostBrowserProcess>(m_config.state_dir, BrowserKind::chrome, dirs, 0, "",
                                                      std::move(*pidfd), start_time, std::nullopt, uid, network->own(),
                                                      m_config, std::move(*network));
  if (uid) adopted->set_runs_as(*uid);
  else if (m_config.session_user) adopted->set_runs_as(m_config.session_user->uid);
  adopted->set_egress(egress);
  // Without it the session lives on, but its pages reach nothing: never
  // straight out, around the proxy it was given.
  auto proxy = recall_session_proxy(dirs, session_id);
  if (!proxy) {
    spdlog::error("session {}: no way out after adoption: {}", session_id, proxy.error().message);
    return std::unique_ptr<BrowserProcess>(std::move(adopted));
  }
  adopted->set_proxy(std::move(*proxy));
  // Its veth outlived the crash; its Chrome has no proxy flags to serve.
  if (m_config.kernel && m_config.kernel->adopt(session_id)) adopted->set_kernel_way_out(m_config.kernel, true);
  // Without it the session lives on, but its pages reach nothing.
  if (auto opened = adopted->open_way_out(); !opened)
    spdlog::error("session {}: no way out after adoption: {}", session_id, opened.error().message);
  return std::unique_ptr<BrowserProcess>(std::move(adopted));
}

void HostBrowserLauncher::watch_exit(const BrowserProcess& browser, ExitCallback on_exit) {
  const auto& host = static_cast<const HostBrowserProcess&>(browser);
  // The watcher's own descriptor: the session may close while the
  // process is still being reaped.
  auto copy = host.pidfd().dup();
  if (!copy) {
    spdlog::error("cannot watch pid {}: {}", host.pid(), copy.error().message);
    return;
  }
  m_watcher.watch(std::move(*copy), std::move(on_exit));
}

Result<void> HostBrowserLauncher::admit_proxy(const UpstreamProxy& proxy) {
  if (!m_config.own_network || !m_config.egress)
    return Error::make(EINVAL, "proxy " + proxy.redacted() +
                                   ": sessions share corrald's network here, with no way out to carry a proxy");
  return admit_upstream_proxy(m_config.egress->policy(), proxy);
}

Result<void> HostBrowserLauncher::remove_set_aside_files() { return remove_set_aside(m_config.state_dir); }

Result<std::optional<Credentials>> HostBrowserLauncher::take_user() {
  if (!m_pool.separate()) return m_config.session_user;
  // The sweep of a uid whose session just closed is bounded by 30 s.
  CORRAL_TRY_ASSIGN(auto user, m_pool.take(seconds(35)));
  return std::optional<Credentials>(user);
}

// A uid that owns something, or runs something, is swept like one a
// session has just given back: the last run may have been killed before
// it could sweep.
Result<void> HostBrowserLauncher::reclaim_uids() {
  if (!m_pool.separate()) return success();
  auto owners = uids_owning_leftovers(swept_dirs());
  for (const auto& member : m_pool.free_members()) {
    if (!owners.count(member.uid) && live_processes_of(member.uid).empty()) continue;
    (void)m_pool.claim(member.uid);
    if (auto released = release_uid(member.uid, true); !released)
      spdlog::error("session uid {} quarantined: {}", member.uid, released.error().message);
    else
      spdlog::info("swept what session uid {} left from an earlier run", member.uid);
  }
  return success();
}

Result<void> HostBrowserLauncher::release_uid(uid_t uid, bool session_emptied) {
  if (!m_pool.separate()) return success();
  if (!session_emptied) {
    m_pool.quarantine(uid, "its session's cgroup was not verified empty");
    return Error::make(EBUSY, "uid " + std::to_string(uid) + " quarantined: its session was not verified empty");
  }
  auto swept = sweep_once(uid);
  if (!swept) {
    m_pool.quarantine(uid, swept.error().message);
    m_retries.failed(uid, swept.error().message);
    return swept.error();
  }
  m_pool.give_back(uid);
  return success();
}

Result<void> HostBrowserLauncher::sweep_once(uid_t uid) {
  auto member = m_pool.member(uid);
  if (!member) return Error::make(ENOENT, "uid " + std::to_string(uid) + " is not in the session uid pool");
  return sweep_session_uid(*member, swept_dirs(), m_config.state_dir, m_watcher, seconds(30));
}

Result<void> HostBrowserLauncher::retry_sweep(uid_t uid) {
  auto swept = sweep_once(uid);
  if (!swept) {
    m_pool.quarantine(uid, swept.error().message);
    return swept.error();
  }
  spdlog::info("session uid {} swept clean on a retry; it serves again", uid);
  m_pool.return_from_quarantine(uid);
  return success();
}

Result<void> HostBrowserLauncher::remove_files_except(const std::set<std::string>& keep) {
  CORRAL_TRY(remove_set_aside(m_config.state_dir));  // a removal a crash interrupted
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(sessions_dir(m_config.state_dir), ec)) {
    auto id = dir.path().filename().string();
    if (keep.count(id)) continue;
    forget_session_proxy(id);  // a proxied session that was not adopted: its key goes with its files
    CORRAL_TRY(SessionDirs::at(m_config.state_dir, id).remove());
    spdlog::info("removed leftover session dir {}", dir.path().string());
  }
  return success();
}

}  // namespace corral
