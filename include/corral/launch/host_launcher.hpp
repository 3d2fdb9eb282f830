// HostBrowserLauncher: BrowserLauncher on this host. A session's files are
// SessionDirs under the state dir; its browser is a GatedChild running the
// command browser_command.hpp builds; its exit comes from the ChildWatcher.
#pragma once

#include <filesystem>
#include <optional>

#include "corral/launch/browser_command.hpp"
#include "corral/launch/browser_launcher.hpp"
#include "corral/launch/child_watcher.hpp"

namespace corral {

struct HostLauncherConfig {
  std::filesystem::path state_dir;           ///< session files go in <state>/sessions/<id>
  BrowserPrograms programs;
  std::optional<Credentials> session_user;  ///< what browsers run as; unset: the daemon's user
};

class HostBrowserLauncher : public BrowserLauncher {
 public:
  HostBrowserLauncher(HostLauncherConfig config, ChildWatcher& watcher)
      : m_config(std::move(config)), m_watcher(watcher) {}

  Result<std::unique_ptr<BrowserProcess>> spawn(const BrowserRequest& request) override;
  Result<std::unique_ptr<BrowserProcess>> reattach(const std::string& session_id, pid_t pid,
                                                   uint64_t start_time) override;
  void watch_exit(const BrowserProcess& browser, ExitCallback on_exit) override;
  void unwatch_exit(const BrowserProcess& browser) override;
  Result<void> remove_files_except(const std::set<std::string>& keep) override;
  Result<void> remove_set_aside_files() override;

 private:
  HostLauncherConfig m_config;
  ChildWatcher& m_watcher;
};

}  // namespace corral
