// corrald: wiring only. Options, backend, watcher, session manager, HTTP
// server, signals; the work is done in the core library.
#include <signal.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <future>

#include "corral/egress/egress_relay.hpp"
#include "corral/server/http_server.hpp"
#include "corral/launch/browser_command.hpp"
#include "corral/launch/host_launcher.hpp"
#include "corral/launch/session_way_out.hpp"
#include "corral/launch/own_network.hpp"
#include "corral/launch/child_watcher.hpp"
#include "corral/api/routes.hpp"
#include "corral/console/ui_routes.hpp"
#include "corral/devtools/proxy.hpp"
#include "corral/server/fd_budget.hpp"
#include "corral/webdriver/proxy.hpp"
#include "corral/server/auth.hpp"
#include "corral/util/journal_sink.hpp"
#include "corral/server/listen_socket.hpp"
#include "corral/session/manager.hpp"
#include "corral/session/session_egress.hpp"
#include "corral/launch/session_users.hpp"
#include "corral/launch/uid_sweep.hpp"
#include "corral/util/file_lock.hpp"
#include "corral/util/token_file.hpp"
#include "daemon_options.hpp"
#include "session_network_setup.hpp"

namespace {
using namespace corral;

// Fill in browser paths that were not given; a missing browser only
// disables that kind of session, it does not stop the daemon.
void find_browsers(BrowserPrograms& programs) {
  if (programs.chrome.empty()) {
    if (auto found = find_chrome()) programs.chrome = *found;
    else spdlog::warn("{}", found.error().message);
  }
  if (programs.chromedriver.empty()) {
    if (auto found = find_chromedriver()) programs.chromedriver = *found;
    else spdlog::warn("{}", found.error().message);
  }
}

// journald gets native entries with the session's fields; anything else gets
// timestamped text.
std::shared_ptr<JournalSink> set_up_logging(const DaemonOptions& options) {
  std::shared_ptr<JournalSink> journal;
  if (options.log_target == "journal" || (options.log_target == "auto" && stderr_is_journal())) {
    journal = std::make_shared<JournalSink>();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("corrald", journal));
  } else {
    spdlog::set_default_logger(spdlog::stderr_color_mt("corrald"));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  return journal;
}

// The field `journalctl -u` (system manager) or `--user-unit` (user manager)
// matches for messages about a unit from a root process.
const char* journal_unit_field(const std::string& backend_kind) {
  if (backend_kind == "systemd-system") return "OBJECT_SYSTEMD_UNIT";
  if (backend_kind == "systemd-user") return "OBJECT_SYSTEMD_USER_UNIT";
  return "";
}

// Who browsers run as. Fails (and the daemon with it) for a root daemon
// whose pool users do not exist: sharing a user, or root, must be asked for.
std::optional<SessionUsers> pick_session_users(const DaemonOptions& options) {
  auto chosen =
      choose_session_users(options.session_user, options.session_uids, ::geteuid(), options.naming.is_default());
  if (!chosen) {
    spdlog::critical("{}", chosen.error().message);
    return std::nullopt;
  }
  auto status = chosen->pool.status();
  if (status.separate)
    spdlog::info("each session runs as a uid of its own from {} ({} uids), with Chrome's sandbox", status.source,
                 status.size);
  else if (chosen->shared && chosen->shared->uid == 0)
    spdlog::warn("{}", status.source);
  else
    spdlog::warn("sessions are not separated from each other: {}", status.source);
  return std::move(*chosen);
}

// The state dir, with <state>/sessions that the session user can reach.
bool prepare_state_dir(const std::filesystem::path& state_dir, const std::optional<SessionUser>& user) {
  auto prepared = prepare_sessions_dir(state_dir);
  if (prepared && user) prepared = check_reachable(sessions_dir(state_dir), *user);
  if (!prepared) spdlog::critical("state dir {}: {}", state_dir.string(), prepared.error().message);
  return prepared.ok();
}

// The state dir is one corrald's, and one instance's: another corrald there
// would take its state file and session dirs for leftovers of its own. So
// <state>/instance.lock is locked while corrald runs (the kernel drops the
// lock however corrald ends) and names the instance that keeps its state
// there (written by name_state_dir, once the start got that far). An
// invalid fd means corrald must not start.
UniqueFd claim_state_dir(const std::filesystem::path& state_dir, const InstanceNaming& naming) {
  auto file = state_dir / "instance.lock";
  auto claimed = claim_file(file, naming.instance());
  if (claimed) return std::move(*claimed);
  if (claimed.error().code == EBUSY)
    spdlog::critical("state dir {} is in use by another corrald ({}); give each corrald its own --state-dir",
                     state_dir.string(), claimed.error().message);
  else if (claimed.error().code == EEXIST)
    spdlog::critical("state dir {} belongs to another instance ({}); instance {} needs a --state-dir of its own",
                     state_dir.string(), claimed.error().message, naming.instance());
  else
    spdlog::critical("state dir {}: {}", state_dir.string(), claimed.error().message);
  return UniqueFd();
}

// Just before recovery, the first step that changes what the state dir
// holds: a corrald that stopped earlier (another corrald holds its
// instance) leaves the dir unnamed.
bool name_state_dir(const UniqueFd& claim, const std::filesystem::path& state_dir, const InstanceNaming& naming) {
  auto named = write_owner(claim.get(), state_dir / "instance.lock", naming.instance());
  if (!named) spdlog::critical("state dir {}: {}", state_dir.string(), named.error().message);
  return named.ok();
}

int wait_for_stop_signal() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  int sig = 0;
  sigwait(&stop, &sig);
  return sig;
}

// The API token, if one is asked for; read before anything else starts, so
// that a bad token file stops corrald at once.
Result<std::optional<std::string>> load_token(const std::filesystem::path& path) {
  if (path.empty()) return std::optional<std::string>();
  auto file = read_token_file(path);
  if (!file) return file.error();
  if (file->group_can_read)
    spdlog::warn("token file {} is readable by its group: every member of that group can use the API",
                 path.string());
  return std::optional<std::string>(std::move(file->token));
}

// The backend that makes session cgroups, chosen and described in the log.
std::unique_ptr<ScopeBackend> open_backend(const DaemonOptions& options, JournalSink* journal) {
  auto selection = select_backend(options.backend, options.cgroup_root, options.naming);
  if (!selection) {
    spdlog::critical("{}", selection.error().message);
    return nullptr;
  }
  for (const auto& reason : selection->passed_over) spdlog::info("backend passed over: {}", reason);
  auto& backend = *selection->backend;
  if (journal) journal->set_unit_field(journal_unit_field(backend.kind()));
  spdlog::info("instance {}: backend {} at {}, controllers: {}", options.naming.instance(), backend.kind(),
               backend.sessions_root().string(), backend.controllers().describe());
  return std::move(selection->backend);
}

void recover_earlier_sessions(SessionManager& sessions) {
  auto recovered = sessions.recover();
  if (!recovered) spdlog::error("recovering the sessions of an earlier run failed: {}", recovered.error().message);
  else if (recovered->adopted || recovered->reaped)
    spdlog::info("earlier run: {} sessions adopted, {} reaped", recovered->adopted, recovered->reaped);
}

// Serve the API until SIGTERM/SIGINT, then close every session. "Ready" is
// said once the server accepts.
void serve_until_stopped(HttpServer& server, ListenSocket& listener, SessionManager& sessions,
                         const std::string& ready_message) {
  server.start(listener.take_fd(), listener.is_unix());
  spdlog::info("{}", ready_message);
  sd_notify(0, "READY=1");
  int sig = wait_for_stop_signal();
  spdlog::info("{}: closing {} sessions", sigabbrev_np(sig), sessions.open_count());
  sd_notify(0, "STOPPING=1");
  // Requests waiting for room are answered 503 now, while the server still
  // writes answers; then it stops accepting and closes its connections.
  sessions.refuse_new_sessions();
  server.stop();
  listener.remove_file();
  sessions.close_all();
}

// Every connection takes an fd, and may take one toward a session: raise
// the soft limit to the hard one, and fit the connections and relays into
// it, so that no crowd of clients can make an open fail with EMFILE.
FdBudget raise_fd_limit(const DaemonOptions& options) {
  rlimit limit{RLIM_INFINITY, RLIM_INFINITY};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  auto budget = fit_fd_budget(options.max_connections,
                              options.max_relays ? std::optional<size_t>(options.max_relays) : std::nullopt,
                              limit.rlim_cur == RLIM_INFINITY ? 0 : limit.rlim_cur);
  for (const auto& warning : budget.warnings) spdlog::warn("{}", warning);
  spdlog::info("front door: {} connections at once, {} of them relayed WebSockets ({} per session), in an fd limit "
               "of {}",
               budget.max_connections, budget.max_relays, options.relays.per_session, limit.rlim_cur);
  return budget;
}

std::string ready_message(const DaemonOptions& options, const ListenSocket& listener, bool token) {
  return fmt::format("corrald ready on {} (instance {}; state dir {}; {})", listener.url(), options.naming.instance(),
                     options.sessions.state_dir.string(), token ? "API token required" : "no API token");
}

// The pool bounds the sessions: past it, admission says 429 as for any other limit.
SessionManagerConfig bounded_by_pool(SessionManagerConfig config, const SessionUidPool& pool) {
  if (auto status = pool.status(); status.separate) {
    auto& max = config.admission.max_sessions;
    max = max == 0 ? status.size : std::min(max, status.size);
  }
  return config;
}

// The checks every request passes before routing, in this order. Before
// the token: a session's uid is refused even with the token, and a web
// page learns nothing about it.
void add_request_checks(HttpServer& server, const RequestGuardPolicy& guard, const std::optional<std::string>& token,
                        const HostBrowserLauncher& launcher) {
  refuse_session_uids(server, [&launcher](uid_t uid) { return launcher.is_session_uid(uid); });
  guard_requests(server, guard);
  if (token)
    require_token(server, *token);
  else
    serve_without_token_only_to(server, std::make_shared<TokenlessCallers>(::geteuid()));
}

// How clients reach corral, and what connect-to-launch needs. The browser's
// version is asked in the background (it runs the browser), and only when
// the root /json/version can answer.
DevToolsConfig devtools_settings(const DaemonOptions& options, const std::filesystem::path& chrome, bool token) {
  PublicAddressing addressing{
      options.public_url.empty() ? std::nullopt : std::optional<PublicBase>(*parse_public_url(options.public_url)),
      options.listen.is_unix()};
  std::shared_future<std::string> version;
  if (options.launch_on_connect) version = std::async(std::launch::async, [chrome] { return browser_version(chrome); });
  auto known_version = [version] {
    using namespace std::chrono;
    return version.valid() && version.wait_for(seconds(0)) == std::future_status::ready ? version.get() : "";
  };
  return {addressing, options.launch_on_connect, token, known_version};
}

// The console's files, read now: a corrald without them still serves the
// API, and /ui/ says where it looked.
void serve_console(HttpServer& server, const std::filesystem::path& dir) {
  auto files = UiFiles::load(dir);
  if (files) spdlog::info("console: {} files from {}, at /ui/", files->size(), dir.string());
  else spdlog::warn("console: not served: {}", files.error().message);
  register_console_routes(server, files ? std::make_shared<const UiFiles>(std::move(*files)) : nullptr, dir);
}

ServerOptions server_options(const FdBudget& fds) {
  ServerOptions server;
  server.limits = api_connection_limits();
  server.max_connections = fds.max_connections;
  return server;
}

RelayLimits relay_limits(const DaemonOptions& options, const FdBudget& fds) {
  auto limits = options.relays;
  limits.total = fds.max_relays;
  return limits;
}

int run(const DaemonOptions& options, JournalSink* journal) {
  auto token = load_token(options.token_file);
  if (!token) {
    spdlog::critical("{}", token.error().message);
    return 1;
  }
  // Bind first: a second corrald started by mistake on the same address
  // must stop here, before it removes "leftover" sessions that are the
  // first one's. Connections wait in the backlog until the routes are in.
  auto fds = raise_fd_limit(options);
  HttpServer server(server_options(fds));
  auto listener = bind_listen_socket(options.listen);
  if (!listener) {
    spdlog::critical("cannot serve the API: {}", listener.error().message);
    return 1;
  }
  if (listener->replaced_stale()) spdlog::info("removed the stale API socket of an earlier run");
  // Orphans of session processes (crashpad handlers double-fork) come to us,
  // not PID 1, and the watcher reaps them at once.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // The cheap checks that can refuse the start come before the backend,
  // which may create cgroups.
  auto users = pick_session_users(options);
  if (!users) return 1;
  auto launcher_config = options.launcher;
  if (!prepare_state_dir(options.sessions.state_dir, users->example)) return 1;
  auto state_dir_claim = claim_state_dir(options.sessions.state_dir, options.naming);
  if (!state_dir_claim.valid()) return 1;
  launcher_config.session_user = users->shared;
  auto sessions_config = bounded_by_pool(options.sessions, users->pool);
  auto backend = open_backend(options, journal);
  if (!backend) return 1;
  find_browsers(launcher_config.programs);
  if (!network_mode_possible(launcher_config, options.own_network_required)) return 1;
  // The way out of every own network; its threads end before the launcher's sessions do.
  auto egress = egress_relay(options, *listener, launcher_config);
  if (!egress) {
    spdlog::critical("cannot start with this egress policy: {}", egress.error().message);
    return 1;
  }
  auto names_refresh = refresh_egress_names(options, egress->get());  // a moved denied name stays denied
  bool sessions_run_as_root = !users->pool.status().separate && (users->shared ? users->shared->uid : ::geteuid()) == 0;
  auto kernel = kernel_way_out(options, launcher_config, sessions_run_as_root);  // after the sessions: a clean stop removes it
  if (!kernel) {
    spdlog::critical("cannot start the kernel way out: {}", kernel.error().message);
    return 1;
  }
  launcher_config.kernel = kernel->get();
  launcher_config.egress = egress->get();
  if (*egress) sessions_config.egress_policy = &(*egress)->policy();
  auto dns = dns_forwarder(options, launcher_config);  // every own network's resolver
  sessions_config.network_counted = *egress != nullptr;
  if (!*egress && sessions_config.default_network_max_bytes) {
    spdlog::warn("--default-network-max-bytes has no effect: sessions share corrald's network, whose bytes "
                 "corrald does not count");
    sessions_config.default_network_max_bytes.reset();
  }
  ChildWatcher watcher;
  if (auto started = watcher.start(); !started) {
    spdlog::critical("{}", started.error().message);
    return 1;
  }
  // Who browsers run as decides whether they need --no-sandbox (root only).
  uid_t browser_uid = users->shared ? users->shared->uid : users->pool.status().separate ? 65534 : ::geteuid();
  CorralBrowser browser{launcher_config.programs.chrome.string(), driven_flags(browser_uid, launcher_config)};
  sessions_config.warm_driver_session = warm_driver_session_body(browser);
  HostBrowserLauncher launcher(launcher_config, std::move(users->pool), watcher);
  if (!name_state_dir(state_dir_claim, options.sessions.state_dir, options.naming)) return 1;
  SessionManager sessions(*backend, launcher, sessions_config);
  recover_earlier_sessions(sessions);
  if (*kernel) (*kernel)->forget_unadopted();  // devices of sessions that did not survive the crash
  auto devtools_config = devtools_settings(options, launcher_config.programs.chrome, token->has_value());
  auto facts = DaemonFacts::of(*backend, devtools_config.addressing, launcher_config.own_network,
                               launcher_config.own_user_namespace);
  facts.chromedriver_guard = launcher_config.own_network && !launcher_config.nft.empty();
  if (*egress) facts.egress_policy = &(*egress)->policy();
  if (launcher_config.own_network) facts.session_way_out = launcher_config.kernel ? "kernel" : "relay";
  if (launcher_config.kernel) facts.way_out_table = launcher_config.kernel->table();
  register_routes(server, sessions, std::move(facts));
  serve_console(server, options.ui_dir);
  RelayBudget relays(relay_limits(options, fds));
  SessionUpstream upstream(sessions, relays);  // how both proxies reach a session
  DevToolsProxy devtools(server, sessions, upstream, devtools_config);
  WebDriverProxy webdriver(server, sessions, upstream,
                           {devtools_config.addressing,
                            browser,
                            options.new_session_wait});
  devtools.register_routes();
  webdriver.register_routes();
  add_request_checks(server, options.guard, *token, launcher);
  serve_until_stopped(server, *listener, sessions, ready_message(options, *listener, token->has_value()));
  watcher.stop();
  spdlog::info("corrald stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // corrald re-executes itself to sweep a session uid (uid_sweep.hpp).
  if (argc > 1 && std::string(argv[1]) == corral::kSweepCommand) return corral::sweep_command_main(argc, argv);
  corral::block_daemon_signals();
  auto options = corral::parse_daemon_options(argc, argv);
  auto journal = set_up_logging(options);
  return run(options, journal.get());
}
