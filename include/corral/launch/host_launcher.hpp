// HostBrowserLauncher: BrowserLauncher on this host. A session's files are
// SessionDirs under the state dir; its browser is a GatedChild running the
// command browser_command.hpp builds; its exit comes from the ChildWatcher.
#pragma once

#include <filesystem>
#include <optional>

#include "corral/launch/browser_command.hpp"
#include "corral/egress/dns_forwarder.hpp"
#include "corral/egress/egress_relay.hpp"
#include "corral/launch/browser_launcher.hpp"
#include "corral/launch/child_watcher.hpp"
#include "corral/launch/kernel_way_out.hpp"
#include "corral/launch/sweep_retries.hpp"
#include "corral/launch/writable_dirs.hpp"

namespace corral {

struct HostLauncherConfig {
  std::filesystem::path state_dir;           ///< session files go in <state>/sessions/<id>
  BrowserPrograms programs;
  /// What browsers run as when the pool does not separate sessions; unset:
  /// the daemon's user.
  std::optional<Credentials> session_user;
  /// --session-network own: each session in network, mount and IPC
  /// namespaces of its own (gated_child.hpp), reached through them.
  bool own_network = false;
  /// With own_network, for an unprivileged corrald: those namespaces belong
  /// to a user namespace of the session's own (gated_child.hpp).
  bool own_user_namespace = false;
  /// Serves each own network's way out (session_way_out.hpp); null: the
  /// sessions' pages reach nothing outside.
  EgressRelay* egress = nullptr;
  /// Serves each own network's resolver (session_resolver.hpp), with
  /// `egress`; null: sessions have no DNS.
  DnsForwarder* dns = nullptr;
  /// With `dns`: the text of every session's resolv.conf (resolv_conf.hpp).
  std::string session_resolv_conf;
  /// nft, to admit only corrald to a chromedriver in its own network
  /// (chromedriver_guard.hpp); empty: no such rule here.
  std::filesystem::path nft;
  /// --session-way-out kernel (a prototype): chrome sessions with no proxy,
  /// no egress lists of their own and no byte cap get a veth the kernel
  /// forwards instead of the relay (kernel_way_out.hpp); null: the relay.
  KernelWayOut* kernel = nullptr;
};

class HostBrowserLauncher : public BrowserLauncher {
 public:
  HostBrowserLauncher(HostLauncherConfig config, SessionUidPool pool, ChildWatcher& watcher);

  Result<std::unique_ptr<BrowserProcess>> spawn(const BrowserRequest& request) override;
  Result<void> admit_proxy(const UpstreamProxy& proxy) override;
  Result<std::unique_ptr<BrowserProcess>> reattach(const std::string& session_id, pid_t pid, uint64_t start_time,
                                                   std::optional<uid_t> uid, const EgressLists& egress) override;
  void watch_exit(const BrowserProcess& browser, ExitCallback on_exit) override;
  Result<void> remove_files_except(const std::set<std::string>& keep) override;
  Result<void> remove_set_aside_files() override;
  Result<void> release_uid(uid_t uid, bool session_emptied) override;
  Result<void> reclaim_uids() override;
  UidPoolStatus uid_pool() const override;
  bool is_session_uid(uid_t uid) const override { return m_pool.is_session_uid(uid); }

 private:
  /// Who the next browser runs as: a uid of the pool's own, or the shared user.
  Result<std::optional<Credentials>> take_user();
  /// The world-writable directories sweeps look in: found again when the
  /// last discovery is older than kRediscoverAfter.
  std::vector<std::string> swept_dirs();
  /// With a resolver for sessions: write the session's resolv.conf and
  /// name it in `spec`.
  Result<void> own_resolv_conf(LaunchSpec& spec, const SessionDirs& dirs) const;
  /// With --session-way-out kernel: whether this session gets it (or the relay, said in the log).
  bool kernel_way_out_for(const BrowserRequest& request) const;
  /// One sweep of `uid`, nothing more.
  Result<void> sweep_once(uid_t uid);
  /// A quarantined `uid` swept again: back to the pool if nothing is left.
  Result<void> retry_sweep(uid_t uid);

  HostLauncherConfig m_config;
  SessionUidPool m_pool;
  ChildWatcher& m_watcher;
  mutable std::mutex m_discovery_mutex;
  WritableDirs m_discovery;
  SweepRetries m_retries;  // last: its thread sweeps with the members above
};

}  // namespace corral
