// A SessionManager on fakes, with a state dir of its own, for the manager's
// unit tests: everything the manager asks of the host is visible in
// `backend` and `launcher`, and what the API would show in its answers.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "corral/session/manager.hpp"
#include "fakes/fake_browser_launcher.hpp"
#include "fakes/fake_scope_backend.hpp"

namespace corral::testing {

/// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/corral-unit-XXXXXX";
    m_path = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

/// Poll `condition` every millisecond for up to `limit`; its last answer.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct ManagerFixture {
  TempDir state;
  FakeScopeBackend backend;
  FakeBrowserLauncher launcher;
  SessionManagerConfig config;
  std::unique_ptr<SessionManager> manager_ptr;

  ManagerFixture() {
    config.state_dir = state.path();
    config.start_timeout = std::chrono::seconds(5);
    config.default_grace = std::chrono::milliseconds(10);
    backend.on_kill = [this](pid_t pid) { launcher.exit(pid, ExitStatus{0, SIGKILL}); };
  }
  ~ManagerFixture() { manager_ptr.reset(); }  // joins the closer thread before the fakes go

  /// The manager, made on first use so that a test can set `config` first.
  SessionManager& manager() {
    if (!manager_ptr) manager_ptr = std::make_unique<SessionManager>(backend, launcher, config);
    return *manager_ptr;
  }

  SessionInfo open_ok(const SessionRequest& request = {}) {
    auto opened = manager().open(request);
    if (!opened) throw std::runtime_error("open failed: " + opened.error().message);
    return *opened;
  }

  /// Nothing of any session is left on the (fake) host, once the tidy-up
  /// after the last close has run.
  bool host_is_clean() const {
    bool tidied = eventually([this] { return launcher.set_aside_count() == 0; }, std::chrono::seconds(2));
    return tidied && backend.count() == 0 && launcher.files_count() == 0 && launcher.alive_count() == 0;
  }

  SessionState state_of(const std::string& id) {
    auto info = manager().get(id);
    return info ? info->state : SessionState::starting;
  }
};

}  // namespace corral::testing
