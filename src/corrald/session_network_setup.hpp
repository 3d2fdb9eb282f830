// corrald's wiring of the sessions' networks: which mode this corrald can
// give (--session-network), the egress relay that is every own network's
// way out, and the flags chromedriver's Chrome gets for it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "corral/egress/dns_forwarder.hpp"
#include "corral/egress/egress_names_refresh.hpp"
#include "corral/egress/egress_relay.hpp"
#include "corral/launch/host_launcher.hpp"
#include "corral/server/listen_socket.hpp"
#include "daemon_options.hpp"

namespace corral {

/// False when corrald must not start; may turn config.own_network off
/// (auto mode, where it cannot be given), saying so in the log.
bool network_mode_possible(HostLauncherConfig& config, bool required);

/// Where nft can install chromedriver's rule (chromedriver_guard.hpp),
/// config.nft; a warning where it cannot.
void find_chromedriver_guard(HostLauncherConfig& config);

/// How often the operator's and the sessions' egress names are resolved again: about a
/// common DNS TTL, so that a moved name is judged at its new addresses
/// within a minute or so, for one lookup a name a minute.
inline constexpr std::chrono::seconds kEgressNamesRefresh{60};

/// The thread that resolves the operator's names again (null when there is
/// no relay or no name): a denied name that moved stays denied.
std::unique_ptr<EgressNamesRefresh> refresh_egress_names(const DaemonOptions& options, EgressRelay* relay);

/// The relay for every own network's way out; null for shared networks.
/// EHOSTUNREACH: a name in --egress-allow or --egress-deny does not resolve.
Result<std::unique_ptr<EgressRelay>> egress_relay(const DaemonOptions& options, const ListenSocket& listener,
                                                  const HostLauncherConfig& config);

/// The forwarder for every own network's resolver, and config.dns and
/// config.session_resolv_conf set for it; null for shared networks, or
/// when no resolver is known (said in the log).
std::unique_ptr<DnsForwarder> dns_forwarder(const DaemonOptions& options, HostLauncherConfig& config);

/// The kernel way out: this corrald's table and forwarding made (kernel_way_out.hpp); null for the relay
/// (--session-way-out relay, or auto where it cannot be, said in the log). With --session-way-out kernel,
/// EINVAL where it cannot be: not root, no networks of their own, sessions running as root, operator lists
/// it cannot honour.
Result<std::unique_ptr<KernelWayOut>> kernel_way_out(const DaemonOptions& options, const HostLauncherConfig& config,
                                                     bool sessions_run_as_root);

/// What chromedriver starts its Chrome with, besides the bot's capabilities.
std::vector<std::string> driven_flags(uid_t browser_uid, const HostLauncherConfig& config);

}  // namespace corral
