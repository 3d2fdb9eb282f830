#include "session_network_setup.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <string_view>

#include "corral/egress/resolv_conf.hpp"
#include "corral/egress/egress_names.hpp"
#include "corral/egress/egress_rule.hpp"
#include "corral/launch/browser_command.hpp"
#include "corral/launch/chromedriver_guard.hpp"
#include "corral/launch/own_network.hpp"
#include "corral/launch/session_way_out.hpp"
#include "corral/net/session_connector.hpp"
#include "corral/util/file_io.hpp"

namespace corral {
namespace {

// Where corral itself listens, as the egress policy must refuse it
// whatever the operator allows: a page must never talk to corral's API
// from the host's side. A name in --listen is resolved at bind: bound()
// is the numeric address the socket got.
std::vector<IpEndpoint> corral_listeners(const ListenSocket& listener) {
  const auto& bound = listener.bound();
  if (!bound) return {};  // a unix socket: no page can connect to it
  auto address = IpAddress::parse(bound->host);
  if (!address) {
    spdlog::warn("the egress policy cannot tell corral's own address from '{}'", bound->host);
    return {};
  }
  return {IpEndpoint{*address, bound->port}};
}

// The host's resolv.conf, through its symlink (resolved's stub file is one).
HostResolvConf host_resolv_conf() {
  std::error_code ec;
  auto path = std::filesystem::canonical("/etc/resolv.conf", ec);
  auto text = ec ? Result<std::string>(Error::make(ec.value(), ec.message())) : read_file(path);
  if (!text) {
    spdlog::warn("cannot read the host's /etc/resolv.conf: {}", text.error().message);
    return {};
  }
  return parse_resolv_conf(*text);
}

std::string resolvers_named(const std::vector<IpEndpoint>& resolvers) {
  std::string named;
  for (const auto& resolver : resolvers) named += (named.empty() ? "" : ", ") + to_string(resolver);
  return named;
}

}  // namespace

std::unique_ptr<DnsForwarder> dns_forwarder(const DaemonOptions& options, HostLauncherConfig& config) {
  if (!config.own_network) {
    if (!options.session_dns.empty())
      spdlog::warn("--session-dns has no effect: sessions share corrald's network and its resolv.conf");
    return nullptr;
  }
  auto host = host_resolv_conf();
  auto resolvers = options.session_dns.empty() ? host.nameservers : options.session_dns;
  if (resolvers.empty()) {
    spdlog::warn("sessions have no DNS: the host's /etc/resolv.conf names no nameserver, and no --session-dns");
    return nullptr;
  }
  spdlog::info("sessions' DNS queries go to {} (a resolver on each session's 127.0.0.1:53)", resolvers_named(resolvers));
  config.session_resolv_conf = session_resolv_conf(host);
  auto forwarder = std::make_unique<DnsForwarder>(std::move(resolvers));
  config.dns = forwarder.get();
  return forwarder;
}

// The operator's names are resolved first here: a name that does not
// resolve allows or denies nothing, and says so (a deny that silently
// denied nothing would be worse than a start that refuses: so it refuses).
// Then again every kEgressNamesRefresh (refresh_egress_names).
Result<std::unique_ptr<EgressRelay>> egress_relay(const DaemonOptions& options, const ListenSocket& listener,
                                                  const HostLauncherConfig& config) {
  if (!config.own_network) {
    if (!options.egress.empty())
      spdlog::warn("--egress-allow and --egress-deny have no effect: sessions share corrald's network, "
                   "with no policy on it");
    return std::unique_ptr<EgressRelay>();
  }
  EgressLists lists = options.egress;
  CORRAL_TRY(resolve_names(lists, resolve_by_system));
  for (const auto& rule : lists.allow) {
    if (rule.range)
      spdlog::warn("sessions may reach {} (--egress-allow), which the default policy refuses", rule.describe());
    else
      spdlog::info("--egress-allow {}: a name lifts no default refusal; its addresses are judged as any", rule.describe());
  }
  for (const auto& rule : lists.deny) spdlog::info("sessions may not reach {} (--egress-deny)", rule.describe());
  return std::make_unique<EgressRelay>(EgressPolicy({lists.allow, corral_listeners(listener), lists.deny}));
}

namespace {

// Whether `range` takes in loopback or an address of this host's: the
// kernel way out can never reach those (in a session's namespace 127.0.0.1
// is its own; the host's addresses are refused in the input hook), the
// relay, connecting from the host, can (CI with a dev server on the host).
bool takes_in_the_host(const Cidr& range) {
  if (overlaps(range, Cidr::parse("127.0.0.0/8").value())) return true;
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return true;  // unknown: as if it did
  bool found = false;
  for (auto* one = all; one && !found; one = one->ifa_next) {
    if (!one->ifa_addr || one->ifa_addr->sa_family != AF_INET) continue;
    auto raw = reinterpret_cast<const sockaddr_in*>(one->ifa_addr)->sin_addr.s_addr;
    auto bytes = reinterpret_cast<const uint8_t*>(&raw);
    found = range.contains(IpAddress::v4(bytes[0], bytes[1], bytes[2], bytes[3]));
  }
  ::freeifaddrs(all);
  return found;
}

// The first --egress-allow range that takes in this host; nullopt: none.
std::optional<std::string> allowed_range_of_the_host(const EgressLists& lists) {
  for (const auto& rule : lists.allow)
    if (rule.range && takes_in_the_host(*rule.range)) return rule.to_string();
  return std::nullopt;
}

}  // namespace

// The kernel way out honours what nftables can say simply: --egress-allow
// IPv4 ranges without ports, of other hosts. Anything else the operator
// asked keeps the relay (auto) or refuses the start (kernel), rather than
// being silently not applied.
Result<std::vector<std::string>> kernel_allowed_ranges(const EgressLists& lists) {
  std::vector<std::string> ranges;
  for (const auto& rule : lists.allow) {
    auto text = rule.to_string();
    if (rule.is_name() || text.find(':') != std::string::npos || !rule.range->network.is_v4())
      return Error::make(EINVAL, "--egress-allow " + text + ": the kernel way out takes IPv4 ranges without ports");
    ranges.push_back(text);
  }
  if (!lists.deny.empty())
    return Error::make(EINVAL, "--egress-deny " + lists.deny.front().to_string() + ": not in the kernel way out yet");
  return ranges;
}

namespace {

// Why this corrald's sessions cannot have the kernel way out; nullopt: they can.
std::optional<std::string> kernel_way_out_impossible(const DaemonOptions& options, const HostLauncherConfig& config,
                                                     bool sessions_run_as_root) {
  if (::geteuid() != 0) return "corrald is not root";
  if (!config.own_network) return "sessions share corrald's network";
  if (config.own_user_namespace) return "sessions' networks are in user namespaces";
  // Its loopback rule lets uid 0 through (corrald's own connections): a
  // session running as root would pass it too.
  if (sessions_run_as_root) return "sessions run as root";
  if (auto ranges = kernel_allowed_ranges(options.egress); !ranges) return ranges.error().message;
  if (auto host = allowed_range_of_the_host(options.egress); host && options.way_out != DaemonOptions::WayOut::kernel)
    return "--egress-allow " + *host + " takes in this host, which only the relay reaches";
  return std::nullopt;
}

}  // namespace

// auto falls back to the relay, saying why; kernel refuses to start instead.
Result<std::unique_ptr<KernelWayOut>> kernel_way_out(const DaemonOptions& options, const HostLauncherConfig& config,
                                                     bool sessions_run_as_root) {
  using WayOut = DaemonOptions::WayOut;
  if (options.way_out == WayOut::relay) return std::unique_ptr<KernelWayOut>();
  bool required = options.way_out == WayOut::kernel;
  if (auto why_not = kernel_way_out_impossible(options, config, sessions_run_as_root)) {
    if (required) return Error::make(EINVAL, "--session-way-out kernel: " + *why_not);
    if (config.own_network) spdlog::info("sessions leave by the egress relay, not the kernel way out: {}", *why_not);
    return std::unique_ptr<KernelWayOut>();
  }
  auto settings = options.kernel_way_out_config;
  settings.allowed_ranges = kernel_allowed_ranges(options.egress).value();
  if (auto host = required ? allowed_range_of_the_host(options.egress) : std::nullopt)  // auto: ruled out above
    spdlog::warn("--egress-allow {} takes in this host: the kernel way out still refuses its addresses", *host);
  auto started = KernelWayOut::start(std::move(settings));
  if (started || required) return started;
  spdlog::warn("sessions leave by the egress relay, not the kernel way out: {}", started.error().message);
  return std::unique_ptr<KernelWayOut>();
}

std::vector<std::string> driven_flags(uid_t browser_uid, const HostLauncherConfig& config) {
  auto flags = chrome_driven_flags(browser_uid);
  if (config.own_network)
    for (auto& flag : way_out_flags()) flags.push_back(std::move(flag));
  return flags;
}

// An unprivileged corrald (the user manager, CI): its sessions' namespaces
// inside user namespaces of their own, where the kernel allows them. What
// that does and does not separate: docs/network.md, "On the user manager".
bool user_namespaces_possible(HostLauncherConfig& config, bool required) {
  if (auto possible = check_own_user_network(config); !possible) {
    if (required) {
      spdlog::critical("cannot give sessions networks of their own: {}", possible.error().message);
      return false;
    }
    spdlog::info("sessions share corrald's network: an unprivileged corrald could not give them their own ({})",
                 possible.error().message);
    config.own_network = false;
    return true;
  }
  config.own_user_namespace = true;
  spdlog::info("sessions get networks of their own, in user namespaces of their own (corrald is unprivileged)");
  return true;
}

// Sessions in namespaces of their own, or none: never a session that
// silently shares corrald's network when the operator asked for its own.
// Without the ask (auto), a root corrald that cannot (a container without
// CAP_SYS_ADMIN) runs them shared and says so loudly.
bool network_mode_possible(HostLauncherConfig& config, bool required) {
  if (!config.own_network) return true;
  if (::geteuid() != 0) {
    if (!user_namespaces_possible(config, required)) return false;
  } else if (auto possible = check_own_network(config); !possible) {
    if (!required) {
      spdlog::warn("sessions share corrald's network, and reach whatever it reaches: {} "
                   "(--session-network shared silences this; own makes it fatal)", possible.error().message);
      config.own_network = false;
      return true;
    }
    spdlog::critical("cannot give sessions networks of their own: {}", possible.error().message);
    return false;
  }
  if (!config.own_network) return true;
  if (auto remembered = remember_own_network(); !remembered) {
    spdlog::critical("{}", remembered.error().message);
    return false;
  }
  // In a user namespace the session's browser is corrald's uid: a rule by
  // uid cannot tell them apart (docs/network.md, "On the user manager").
  if (!config.own_user_namespace) find_chromedriver_guard(config);
  return true;
}

void find_chromedriver_guard(HostLauncherConfig& config) {
  auto nft = usable_nft();
  if (!nft) {
    spdlog::warn("a chromedriver session's own browser can connect to its chromedriver: {}", nft.error().message);
    return;
  }
  config.nft = *nft;
  spdlog::info("chromedriver in a session's own network answers corrald alone (an nftables rule there, {})",
               nft->string());
}

std::unique_ptr<EgressNamesRefresh> refresh_egress_names(const DaemonOptions& options, EgressRelay* relay) {
  if (!relay) return nullptr;
  auto refresh = std::make_unique<EgressNamesRefresh>(relay->policy(), options.egress, resolve_by_system, relay);
  refresh->start(kEgressNamesRefresh);
  return refresh;
}

}  // namespace corral
