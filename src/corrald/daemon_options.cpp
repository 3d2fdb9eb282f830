#include "daemon_options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "corral/api/public_address.hpp"
#include "corral/egress/egress_policy.hpp"
#include "corral/egress/resolv_conf.hpp"
#include "corral/egress/egress_rule.hpp"
#include "corral/session/metric_label.hpp"
#include "corral/util/units.hpp"

namespace corral {
namespace {

// Unwrap a parse Result or stop with CLI11's usage error.
template <class T>
T value_or_usage(Result<T> result, const std::string& flag) {
  if (!result) throw CLI::ValidationError(flag, result.error().message);
  return std::move(*result);
}

// An API that other hosts can reach starts browsers for anyone who finds
// it; it must not come up that way by a typo in --listen.
void require_token_beyond_loopback(const ListenAddress& listen, const std::filesystem::path& token_file) {
  if (is_local_only(listen) || !token_file.empty()) return;
  throw CLI::ValidationError(
      "--listen", "refusing to serve the API on " + listen.describe() +
                      " without --token-file: anyone who can reach that address could start browsers on this "
                      "host. Give --token-file, or listen on 127.0.0.1, ::1 or a unix:/PATH socket");
}

}  // namespace

std::filesystem::path default_state_dir() {
  if (const char* state = std::getenv("STATE_DIRECTORY")) return state;
  if (::geteuid() == 0) return "/var/lib/corral";
  if (const char* xdg = std::getenv("XDG_STATE_HOME")) return std::filesystem::path(xdg) / "corral";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/tmp") / ".local/state/corral";
}

std::filesystem::path default_ui_dir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  const std::string build_root = CORRAL_BUILD_ROOT "/";
  if (!ec && self.starts_with(build_root) && std::filesystem::is_directory(CORRAL_UI_SOURCE, ec))
    return CORRAL_UI_SOURCE;
  return CORRAL_UI_INSTALLED;
}

namespace {

// Flags as typed, before they are parsed into DaemonOptions.
struct FlagText {
  std::string instance = kDefaultInstance, listen = "127.0.0.1:8420", backend = "auto", state_dir;
  std::string browser, chromedriver, memory_max, memory_high, cpu_quota, grace = "2s", start_timeout = "60s";
  std::string new_session_wait = "30s", relay_idle_timeout = "10m", session_network = "auto";
  std::string warm;
  std::string memory_budget, default_ttl = "1h", max_ttl = "24h", default_idle = "5m", max_idle = "24h";
  uint64_t tasks_max = 0;
  std::vector<std::string> allow_hosts, allow_origins, egress_allow, egress_deny, session_dns;
  std::string default_network_max_bytes, max_network_max_bytes;
  std::string session_way_out = "auto", way_out_pool = "10.201.0.0/16";
  std::vector<std::string> way_out_uplinks;
};

void add_daemon_flags(CLI::App& app, FlagText& text, DaemonOptions& options) {
  app.set_config("--config", "", "Read flags from this TOML/INI file");
  app.add_option("--instance", text.instance,
                 "this corrald's name among several on one host (1-32 of a-z, 0-9, _): instance NAME uses "
                 "corral-NAME.slice in corral.slice, scopes corral-NAME-<id>.scope, <cgroup root>/corral-NAME.slice "
                 "and <state>/instances/NAME, and recovers only its own sessions; `default` keeps corral's names")
      ->capture_default_str();
  app.add_option("--listen", text.listen,
                 "HOST:PORT or unix:/PATH to serve the HTTP API on; an address beyond loopback needs --token-file. "
                 "Without a token, TCP serves only root, corrald's own uid and members of group corral (a unix "
                 "socket: whoever its mode lets connect)")
      ->capture_default_str();
  app.add_option("--token-file", options.token_file,
                 "file with the API token (at least 16 characters, no access for others): every request but "
                 "GET /v1/health must send 'Authorization: Bearer TOKEN' (connect-to-launch also takes ?token=, "
                 "under that name only)");
  app.add_option("--backend", text.backend, "auto, systemd-system, systemd-user or cgroupfs")->capture_default_str();
  app.add_option("--cgroup-root", options.cgroup_root,
                 "cgroupfs backend: parent cgroup for sessions, shared by every instance (default: <own "
                 "cgroup>/corral)");
  app.add_option("--browser", text.browser, "Chrome/Chromium binary (default: found in the usual places)");
  app.add_option("--chromedriver", text.chromedriver, "chromedriver binary (default: found in the usual places)");
  app.add_option("--state-dir", text.state_dir,
                 "where session profiles, temp dirs and the state file live (default: " +
                     default_state_dir().string() + ", and <that>/instances/NAME for --instance NAME); each "
                     "corrald needs its own");
  app.add_option("--session-user", options.session_user,
                 "one user that every session runs as, sharing its uid (e.g. corral-session; `root` turns Chrome's "
                 "sandbox off); default for root: a uid of its own for each live session, from the users "
                 "corral-s00..corral-s15; a corrald that is not root runs sessions as itself");
  app.add_option("--session-uids", options.session_uids,
                 "FIRST-LAST: each session runs as a uid of its own from this range (refused if any uid in it "
                 "has a passwd or group entry, is in /etc/subuid or /etc/subgid, in systemd's dynamic-user or "
                 "container ranges, or owns a running process)");
  app.add_option("--session-network", text.session_network,
                 "own: each session in network, mount and IPC namespaces of its own (its own /proc, /tmp, "
                 "/var/tmp, /dev/shm, /run/lock), its ports reached by corrald alone, its pages out only through "
                 "corrald's egress relay and its policy (docs/network.md); as root it needs CAP_SYS_ADMIN, "
                 "CAP_NET_ADMIN, CAP_SYS_PTRACE; an unprivileged corrald makes them in a user namespace of the "
                 "session's own (no /proc of its own; the session still has corrald's uid: docs/network.md, \"On "
                 "the user manager\"). shared: sessions share corrald's network. auto: own where corrald can give "
                 "it, else shared, with a warning")
      ->check(CLI::IsMember({"auto", "own", "shared"}))
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--log-target", options.log_target,
                 "stderr, journal (native, with CORRAL_SESSION_ID and unit fields), or auto: journal when "
                 "stderr is connected to it")
      ->check(CLI::IsMember({"auto", "stderr", "journal"}))
      ->capture_default_str();
  app.add_option("--max-connections", options.max_connections,
                 "API connections open at once, relayed WebSockets included; beyond it a new one gets 503 and is "
                 "closed (each may take 2 fds: lowered at start to fit RLIMIT_NOFILE)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

// Relayed WebSockets (DevTools, WebDriver's se:cdp and se:bidi): how many,
// and how long one may sit idle.
void add_relay_flags(CLI::App& app, FlagText& text, DaemonOptions& options) {
  app.add_option("--max-relays-per-session", options.relays.per_session,
                 "relayed WebSockets one session may have open; past it an upgrade gets 429 too_many_relays")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-relays", options.max_relays,
                 "relayed WebSockets open at once, all sessions together (default: half of --max-connections; "
                 "below it); past it an upgrade gets 503 too_many_relays")
      ->check(CLI::PositiveNumber);
  app.add_option("--relay-idle-timeout", text.relay_idle_timeout,
                 "a relayed WebSocket through which neither side sent a byte for this long is closed (a client that "
                 "wants to hold one longer sends WebSocket pings); 0: never")
      ->capture_default_str();
}

// What the front door lets in and hands out: web pages' Host and Origin,
// connect-to-launch, WebDriver's new-session wait, the public URL.
void add_front_door_flags(CLI::App& app, FlagText& text, DaemonOptions& options) {
  app.add_option("--allow-host", text.allow_hosts,
                 "a host name clients may send in Host, besides IP addresses, localhost and the --listen name "
                 "(repeatable); any other Host is refused, as Chrome's DevTools refuse it, against DNS rebinding");
  app.add_option("--allow-origin", text.allow_origins,
                 "an origin (scheme://host[:port]) whose web pages may send requests (repeatable); a request "
                 "with any other Origin header is refused");
  app.add_option("--ui-dir", options.ui_dir,
                 "the console's files, served at /ui/ (default: " + default_ui_dir().string() + ")");
  app.add_flag("--launch-on-connect", options.launch_on_connect,
               "a WebSocket to /devtools/browser at corral's root opens a session (fields as the POST "
               "/v1/sessions body, in the query) and the client's disconnect closes it, as browserless does; "
               "GET /json/version at the root points there");
  app.add_option("--new-session-wait", text.new_session_wait,
                 "how long a WebDriver new session (POST /session) waits for room before 'session not created'")
      ->capture_default_str();
  app.add_option("--public-url", options.public_url,
                 "http(s)://host[:port][/prefix]: the address clients use when corral sits behind a proxy (TLS, say); "
                 "DevTools URLs are built from it instead of each request's Host")
      ->check([](const std::string& url) {
        auto parsed = parse_public_url(url);
        return parsed ? std::string() : parsed.error().message;
      });
}

void add_session_flags(CLI::App& app, FlagText& text, SessionManagerConfig& sessions) {
  app.add_flag("--allow-unenforced-limits", sessions.allow_unenforced_limits,
               "accept explicit limits this host cannot enforce (they are recorded, not applied)");
  app.add_option("--default-memory-max", text.memory_max, "MemoryMax for sessions that ask for none (e.g. 2G)");
  app.add_option("--default-memory-high", text.memory_high, "MemoryHigh for sessions that ask for none");
  app.add_option("--default-cpu-quota", text.cpu_quota, "CPU quota for sessions that ask for none (e.g. 200%)");
  app.add_option("--default-tasks-max", text.tasks_max, "TasksMax for sessions that ask for none");
  app.add_option("--grace", text.grace, "how long a closing browser gets after SIGTERM before cgroup.kill")
      ->capture_default_str();
  app.add_option("--start-timeout", text.start_timeout, "how long a browser may take to answer")->capture_default_str();
  app.add_option("--max-sessions", sessions.admission.max_sessions, "sessions open at once (0: no limit)")
      ->capture_default_str();
  app.add_option("--memory-budget", text.memory_budget,
                 "sum of memory_max over open sessions (e.g. 16G); needs --default-memory-max");
  app.add_option("--max-queue", sessions.admission.max_queue, "open requests that may wait (?wait=) for room")
      ->capture_default_str();
  app.add_option("--default-ttl", text.default_ttl, "lifetime of a session that asks for none")->capture_default_str();
  app.add_option("--max-ttl", text.max_ttl, "longest lifetime a request may ask for")->capture_default_str();
  app.add_option("--default-idle-timeout", text.default_idle, "a session with no request for this long is closed")
      ->capture_default_str();
  app.add_option("--max-idle-timeout", text.max_idle, "longest idle timeout a request may ask for")
      ->capture_default_str();
  app.add_option("--warm", text.warm,
                 "KIND=N[,KIND=N]: keep N browsers of KIND started and frozen, handed to opens that ask nothing "
                 "they lack (docs/operators.md, \"Warm browsers\"); they count against --max-sessions, the uid pool and --memory-budget, "
                 "and give way to a cold open. Only chrome=N for now");
}

// A session's way out (egress/egress_policy.hpp): what an operator allows
// past the default policy, and what it refuses besides.
void add_egress_flags(CLI::App& app, FlagText& text) {
  app.add_option("--egress-allow", text.egress_allow,
                 "an address range, with ports if given (10.1.0.0/16, 127.0.0.1:3000, 10.2.0.0/16:8000-8099, "
                 "[fd12::/64]:443), that sessions' pages may connect to although the default policy refuses it (the "
                 "host's own addresses, link-local, private and shared ranges, multicast and reserved); repeatable. "
                 "A name (host[:port]) is resolved at start and every minute, and lifts no refusal: its addresses are judged like any "
                 "other. corrald's own listening address stays refused whatever is allowed, and --egress-deny beats "
                 "it. E.g. CI with a dev server on the host: --egress-allow 127.0.0.1:3000");
  app.add_option("--egress-deny", text.egress_deny,
                 "an address range or name, with ports if given (same forms as --egress-allow), that sessions' pages "
                 "may not connect to, whatever the default policy or --egress-allow says; repeatable. Names are "
                 "resolved at start and again every minute (one that stops resolving keeps its addresses). E.g. --egress-deny 203.0.113.0/24 --egress-deny ads.example");
  app.add_option("--session-dns", text.session_dns,
                 "a resolver (ADDR or ADDR:PORT; IPv6 as [ADDR]:PORT) that sessions' DNS queries are forwarded to, "
                 "from corrald's own network and exempt from the egress policy; repeatable, asked in order. Default: "
                 "the nameservers of the host's /etc/resolv.conf, read at start (a loopback one such as resolved's "
                 "127.0.0.53 works)");
  app.add_option("--session-way-out", text.session_way_out,
                 "how pages leave a session's own network. kernel: a veth pair per session that the kernel forwards "
                 "and masquerades under a table of this corrald's own (root with networks of their own only); relay: "
                 "corrald's egress relay. auto (default): kernel where it can be, else the relay, said in the log. "
                 "With kernel, sessions with an upstream proxy, egress lists of their own or a byte cap still get "
                 "the relay (docs/network.md, \"The kernel way out\")")
      ->check(CLI::IsMember({"auto", "relay", "kernel"}));
  app.add_option("--session-way-out-pool", text.way_out_pool, "with the kernel way out: the IPv4 range "
                 "sessions' /30s come from (default 10.201.0.0/16)");
  app.add_option("--session-way-out-uplink", text.way_out_uplinks,
                 "with the kernel way out: a device sessions' packets leave by, masqueraded; repeatable. "
                 "Default: the devices of the host's default routes");
}

// A session's bytes through its way out: its cap when it asks for none,
// and the most it may ask for (named like --default-ttl and --max-ttl).
void add_network_cap_flags(CLI::App& app, FlagText& text) {
  app.add_option("--default-network-max-bytes", text.default_network_max_bytes,
                 "network_max_bytes for sessions that ask for none (e.g. 500M): past it, bytes in and out of the "
                 "session's pages together, the session is closed with reason network-limit (needs sessions in "
                 "networks of their own)");
  app.add_option("--max-network-max-bytes", text.max_network_max_bytes,
                 "largest network_max_bytes a request may ask for (e.g. 10G); a request above it gets 422; "
                 "without --default-network-max-bytes, also the cap of sessions that ask for none");
}

void apply_network_cap_flags(const FlagText& text, SessionManagerConfig& sessions) {
  if (!text.default_network_max_bytes.empty())
    sessions.default_network_max_bytes =
        value_or_usage(parse_size(text.default_network_max_bytes), "--default-network-max-bytes");
  if (!text.max_network_max_bytes.empty())
    sessions.max_network_max_bytes = value_or_usage(parse_size(text.max_network_max_bytes), "--max-network-max-bytes");
  for (const auto& [flag, value] : {std::pair{"--default-network-max-bytes", sessions.default_network_max_bytes},
                                    std::pair{"--max-network-max-bytes", sessions.max_network_max_bytes}})
    if (value && *value == 0) throw CLI::ValidationError(flag, "must be above 0");
  auto &fallback = sessions.default_network_max_bytes, &maximum = sessions.max_network_max_bytes;
  // With a maximum, no session goes uncapped: one that asks for none gets it.
  if (maximum && !fallback) fallback = maximum;
  if (maximum && *fallback > *maximum)
    throw CLI::ValidationError("--default-network-max-bytes", "a default is above its maximum");
}

// The label that splits usage metrics by bot, bounded in its values.
void add_metrics_flags(CLI::App& app, UsageMetricsConfig& metrics) {
  app.add_option("--metrics-label", metrics.label_key,
                 "session label whose value splits the usage metrics (e.g. bot): values must match "
                 "[A-Za-z0-9._-]{1,64}; past --metrics-label-values distinct ones, or otherwise, they count as "
                 "'other'")
      ->check([](const std::string& key) {
        auto checked = MetricLabel::check_key(key);
        return checked ? std::string() : checked.error().message;
      });
  app.add_option("--metrics-label-values", metrics.label_values,
                 "distinct values of --metrics-label kept as series before the rest count as 'other'")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
}

void apply_default_limits(const FlagText& text, Limits& limits) {
  if (!text.memory_max.empty()) limits.memory_max = value_or_usage(parse_size(text.memory_max), "--default-memory-max");
  if (!text.memory_high.empty())
    limits.memory_high = value_or_usage(parse_size(text.memory_high), "--default-memory-high");
  if (!text.cpu_quota.empty())
    limits.cpu_percent = value_or_usage(parse_cpu_percent(text.cpu_quota), "--default-cpu-quota");
  if (text.tasks_max) limits.tasks_max = text.tasks_max;
}

void apply_durations(const FlagText& text, SessionManagerConfig& sessions) {
  sessions.default_grace = value_or_usage(parse_duration(text.grace, std::chrono::minutes(1)), "--grace");
  sessions.start_timeout =
      value_or_usage(parse_duration(text.start_timeout, std::chrono::minutes(10)), "--start-timeout");
  const std::chrono::hours month(24 * 30);
  sessions.default_ttl = value_or_usage(parse_duration(text.default_ttl, month), "--default-ttl");
  sessions.max_ttl = value_or_usage(parse_duration(text.max_ttl, month), "--max-ttl");
  sessions.default_idle_timeout = value_or_usage(parse_duration(text.default_idle, month), "--default-idle-timeout");
  sessions.max_idle_timeout = value_or_usage(parse_duration(text.max_idle, month), "--max-idle-timeout");
  if (sessions.default_ttl > sessions.max_ttl || sessions.default_idle_timeout > sessions.max_idle_timeout)
    throw CLI::ValidationError("--default-ttl/--default-idle-timeout", "a default is above its maximum");
}

// Which Host and Origin values requests may carry (request_guard.hpp). A
// name corrald listens on is one its clients use in Host.
void apply_guard_flags(const FlagText& text, DaemonOptions& options) {
  auto& guard = options.guard;
  guard.check_host = !options.listen.is_unix();
  for (const auto& host : text.allow_hosts) guard.allowed_hosts.push_back(value_or_usage(parse_allowed_host(host), "--allow-host"));
  for (const auto& origin : text.allow_origins)
    guard.allowed_origins.push_back(value_or_usage(parse_allowed_origin(origin), "--allow-origin"));
  if (!options.listen.is_unix() && !is_ip_literal(options.listen.host))
    if (auto name = parse_allowed_host(options.listen.host)) guard.allowed_hosts.push_back(*name);
  if (!options.public_url.empty())
    if (auto base = parse_public_url(options.public_url))
      guard.public_origin = value_or_usage(parse_allowed_origin(base->scheme + "://" + base->authority), "--public-url");
}

// Everything that needs parsing beyond CLI11's own; throws CLI's errors.
void apply_flags(const FlagText& text, DaemonOptions& options) {
  auto& sessions = options.sessions;
  options.naming = InstanceNaming(value_or_usage(parse_instance_name(text.instance), "--instance"));
  if (options.ui_dir.empty()) options.ui_dir = default_ui_dir();
  options.listen = value_or_usage(parse_listen_address(text.listen), "--listen");
  require_token_beyond_loopback(options.listen, options.token_file);
  apply_guard_flags(text, options);
  options.backend = value_or_usage(parse_backend_choice(text.backend), "--backend");
  // Two instances must never share a state dir (main.cpp locks it), so an
  // instance's default is a dir of its own below the default instance's.
  sessions.state_dir = text.state_dir.empty() ? options.naming.state_dir(default_state_dir())
                                             : std::filesystem::path(text.state_dir);
  options.launcher.state_dir = sessions.state_dir;
  // Absolute: the browser is exec'd after a chdir into the session's tmp dir.
  auto absolute = [](const std::string& path) { return path.empty() ? path : std::filesystem::absolute(path).string(); };
  options.launcher.programs = {absolute(text.browser), absolute(text.chromedriver)};
  options.launcher.own_network = text.session_network != "shared";
  options.own_network_required = text.session_network == "own";
  apply_default_limits(text, sessions.default_limits);
  apply_durations(text, sessions);
  options.new_session_wait =
      value_or_usage(parse_duration(text.new_session_wait, std::chrono::minutes(10)), "--new-session-wait");
  options.relays.idle_timeout =
      value_or_usage(parse_duration(text.relay_idle_timeout, std::chrono::hours(24 * 30)), "--relay-idle-timeout");
  for (const auto& entry : text.egress_allow)
    options.egress.allow.push_back(value_or_usage(parse_egress_rule(entry), "--egress-allow"));
  for (const auto& entry : text.egress_deny)
    options.egress.deny.push_back(value_or_usage(parse_egress_rule(entry), "--egress-deny"));
  for (const auto& server : text.session_dns)
    options.session_dns.push_back(value_or_usage(parse_dns_server(server), "--session-dns"));
  apply_network_cap_flags(text, sessions);
  options.way_out = text.session_way_out == "kernel"  ? DaemonOptions::WayOut::kernel
                    : text.session_way_out == "relay" ? DaemonOptions::WayOut::relay
                                                      : DaemonOptions::WayOut::automatic;
  // One table per corrald: an instance's name in it, so that an operator can tell whose it is.
  if (!options.naming.is_default())
    options.kernel_way_out_config.table_base += "_" + options.naming.instance();
  options.kernel_way_out_config.pool = value_or_usage(Ipv4Pool::parse(text.way_out_pool), "--session-way-out-pool");
  options.kernel_way_out_config.uplinks = text.way_out_uplinks;
  options.kernel_way_out_config.state_dir = sessions.state_dir;
  if (!text.warm.empty()) sessions.warm = value_or_usage(parse_warm_targets(text.warm), "--warm");
  if (!text.memory_budget.empty()) {
    sessions.admission.memory_budget = value_or_usage(parse_size(text.memory_budget), "--memory-budget");
    if (!sessions.default_limits.memory_max)
      throw CLI::ValidationError("--memory-budget",
                                 "needs --default-memory-max, so that every session counts against the budget");
  }
}

}  // namespace

DaemonOptions parse_daemon_options(int argc, char** argv) {
  DaemonOptions options;
  FlagText text;
  CLI::App app{"corrald: headless Chrome sessions, each in its own cgroup, ended by cgroup.kill"};
  add_daemon_flags(app, text, options);
  add_front_door_flags(app, text, options);
  add_relay_flags(app, text, options);
  add_session_flags(app, text, options.sessions);
  add_metrics_flags(app, options.sessions.usage_metrics);
  add_egress_flags(app, text);
  add_network_cap_flags(app, text);
  try {
    app.parse(argc, argv);
    apply_flags(text, options);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return options;
}

}  // namespace corral
