// What the daemon is, settled at start-up: which instance, which backend
// and where it keeps sessions, which controllers enforce limits, and how
// clients reach corral. main hands these to the routes, so that a route
// does not reach through the session manager into its backend to learn them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "corral/backend/scope_backend.hpp"
#include "corral/api/public_address.hpp"
#include "corral/egress/egress_policy.hpp"
#include "corral/session/session.hpp"

namespace corral {

struct DaemonFacts {
  std::string instance;                ///< --instance: "default", or a name of the operator's
  std::string backend;                 ///< "systemd-system", "systemd-user", "cgroupfs"
  std::filesystem::path sessions_root; ///< the cgroup that holds every session
  Controllers controllers;             ///< what enforces limits there
  PublicAddressing addressing;         ///< for the URLs in a session's JSON
  /// "own" (a root corrald's namespaces), "own (user namespace)" (an
  /// unprivileged corrald's: docs/network.md, "On the user manager") or
  /// "shared" (corrald's network)
  std::string session_network;
  /// A chromedriver in its own network answers corrald alone (its nftables
  /// rule, launch/chromedriver_guard.hpp).
  bool chromedriver_guard = false;
  /// How pages leave an own network by default: "kernel" (a veth the kernel
  /// forwards, under this corrald's nftables table, named here), "relay"
  /// (corrald's egress relay); null for shared networks. Sessions that ask
  /// for what only the relay does get the relay either way.
  std::optional<std::string> session_way_out, way_out_table;
  /// The operator's egress policy, read at each /v1/health (its names'
  /// addresses are refreshed, egress_names_refresh.hpp); none when sessions
  /// share corrald's network.
  const EgressPolicy* egress_policy = nullptr;

  static DaemonFacts of(const ScopeBackend& backend, PublicAddressing addressing, bool own_network,
                        bool own_user_namespace) {
    return {backend.naming().instance(), backend.kind(), backend.sessions_root(), backend.controllers(),
            std::move(addressing), !own_network ? "shared" : own_user_namespace ? "own (user namespace)" : "own",
            false, std::nullopt, std::nullopt, nullptr};
  }
};

}  // namespace corral
