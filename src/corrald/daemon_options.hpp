// corrald's command line (and config file): every flag with its default.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "corral/backend/select.hpp"
#include "corral/egress/egress_rule.hpp"
#include "corral/server/listen_address.hpp"
#include "corral/proxy/relay_budget.hpp"
#include "corral/server/request_guard.hpp"
#include "corral/launch/host_launcher.hpp"
#include "corral/session/manager.hpp"

namespace corral {

struct DaemonOptions {
  InstanceNaming naming;  ///< --instance: the names of this corrald's slice, scopes, cgroups, state dir
  ListenAddress listen{"127.0.0.1", 8420, {}};
  std::filesystem::path token_file;  ///< empty: no token asked for
  RequestGuardPolicy guard;
  bool launch_on_connect = false;  ///< --launch-on-connect
  std::chrono::milliseconds new_session_wait{30000};  ///< --new-session-wait: WebDriver's wait for room
  std::string public_url;          ///< --public-url; empty: URLs from each request's Host  ///< --allow-host, --allow-origin; no Host check on a unix socket
  std::filesystem::path ui_dir;    ///< --ui-dir: the console's files; default_ui_dir() unless given
  BackendChoice backend = BackendChoice::automatic;
  std::filesystem::path cgroup_root;  ///< cgroupfs backend; empty = default
  std::string log_level = "info";
  std::string log_target = "auto";  ///< auto, stderr or journal
  std::string session_user;  ///< --session-user; empty: the default (see session_users.hpp)
  std::string session_uids;  ///< --session-uids A-B; empty: the default pool
  size_t max_connections = 1024;  ///< --max-connections: API connections open at once, relays included
  size_t max_relays = 0;          ///< --max-relays; 0: half of --max-connections (main.cpp fits both to the fd limit)
  RelayLimits relays;             ///< --max-relays-per-session, --relay-idle-timeout; the total from max_relays
  SessionManagerConfig sessions;
  HostLauncherConfig launcher;  ///< programs and state dir; the session user is resolved at start
  /// --session-network own: refuse to start without it (auto falls back
  /// to shared, with a warning).
  bool own_network_required = false;
  /// --egress-allow, --egress-deny: what sessions may reach past the default
  /// egress policy, and what they may not although it allows it; names
  /// unresolved yet (session_network_setup.cpp resolves them)
  EgressLists egress;
  /// --session-dns: the resolvers sessions' DNS queries go to; empty: the
  /// nameservers of the host's /etc/resolv.conf.
  std::vector<IpEndpoint> session_dns;
  /// --session-way-out: kernel (kernel_way_out.hpp) or the relay
  /// (session_way_out.hpp); auto (the default): kernel where a root corrald
  /// gives sessions networks of their own and nothing asks for the relay.
  /// Its pool and uplinks; the operator's allowed ranges are added at start.
  enum class WayOut { automatic, kernel, relay } way_out = WayOut::automatic;
  KernelWayOutConfig kernel_way_out_config;
};

/// Parse argv. Exits the process for --help and on a bad flag (start-up is
/// the one place where exiting on an error is right), and when --listen is
/// an address other hosts can reach but no --token-file is given.
DaemonOptions parse_daemon_options(int argc, char** argv);

/// Where the console's files are: the source tree's ui/ for a corrald that
/// runs from its build tree (as the tests do), else the installed
/// datadir/corral/ui. Both paths are fixed when corrald is built.
std::filesystem::path default_ui_dir();

/// The default instance's default state dir: $STATE_DIRECTORY (set by
/// systemd's StateDirectory=), /var/lib/corral for root, else
/// $XDG_STATE_HOME/corral or ~/.local/state/corral. Instance X's is
/// <it>/instances/X (InstanceNaming::state_dir).
std::filesystem::path default_state_dir();

}  // namespace corral
