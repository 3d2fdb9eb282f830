// FakeBrowserLauncher: browsers as records, for tests of the session
// manager's logic. Nothing is forked; a test makes a browser exit with
// exit(), holds start-up with hold_ready(), and reads back which browsers
// were killed, which files remain and which exits are still watched.
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "corral/launch/browser_launcher.hpp"

namespace corral::testing {

class FakeBrowserLauncher : public BrowserLauncher {
 public:
  struct FakeBrowser {
    std::string id;
    pid_t pid = 0;
    uint64_t start_time = 0;
    std::optional<uid_t> uid;
    bool released = false;
    bool alive = true;
    int sigterms = 0;
    std::string driver_url_base = "";  ///< as the manager asked for it
    EgressLists egress;                ///< as the manager asked for it, at spawn or reattach
    std::optional<uint64_t> network_cap = std::nullopt;   ///< as cap_network() set it
    std::function<void()> over_network_cap = nullptr;     ///< cap_network()'s callback
    std::optional<EgressCounters> egress_counts = std::nullopt;  ///< what egress() answers; set by a test
    int network_count_restarts = 0;                              ///< restart_network_counts() calls
  };

  Result<std::unique_ptr<BrowserProcess>> spawn(const BrowserRequest& request) override {
    std::lock_guard lock(m_mutex);
    if (fail_spawn) return *fail_spawn;
    std::optional<uid_t> uid;
    if (m_pool.separate()) {
      CORRAL_TRY_ASSIGN(auto taken, m_pool.take());
      uid = taken.uid;
    }
    pid_t pid = m_next_pid++;
    m_browsers[pid] = FakeBrowser{request.session_id, pid, 1000u + static_cast<uint64_t>(pid), uid};
    m_browsers[pid].driver_url_base = request.driver_url_base;
    m_browsers[pid].egress = request.egress;
    m_files.insert(request.session_id);
    return std::unique_ptr<BrowserProcess>(new Process(*this, pid));
  }

  Result<std::unique_ptr<BrowserProcess>> reattach(const std::string& id, pid_t pid, uint64_t start_time,
                                                   std::optional<uid_t> uid, const EgressLists& egress) override {
    std::lock_guard lock(m_mutex);
    if (!m_files.count(id)) return Error::make(ENOENT, "its profile dir is gone");
    auto it = m_browsers.find(pid);
    if (it == m_browsers.end() || !it->second.alive) return Error::make(ESRCH, "its browser is gone");
    if (it->second.start_time != start_time) return Error::make(ESRCH, "pid is another process now");
    if (uid) CORRAL_TRY(m_pool.claim(*uid));
    it->second.uid = uid;
    it->second.egress = egress;
    return std::unique_ptr<BrowserProcess>(new Process(*this, pid));
  }

  void watch_exit(const BrowserProcess& browser, ExitCallback on_exit) override {
    std::lock_guard lock(m_mutex);
    m_watched[browser.pid()] = std::move(on_exit);
  }

  Result<void> remove_files_except(const std::set<std::string>& keep) override {
    std::lock_guard lock(m_mutex);
    std::set<std::string> kept;
    for (const auto& id : m_files)
      if (keep.count(id)) kept.insert(id);
    m_files = kept;
    return success();
  }

  Result<void> release_uid(uid_t uid, bool session_emptied) override {
    std::lock_guard lock(m_mutex);
    ++m_releases;
    if (!session_emptied || unsweepable.count(uid)) {
      m_pool.quarantine(uid, "left something");
      return Error::make(ENOTEMPTY, "uid " + std::to_string(uid) + " keeps what its session left");
    }
    m_pool.give_back(uid);
    return success();
  }
  Result<void> reclaim_uids() override { return success(); }
  UidPoolStatus uid_pool() const override { return m_pool.status(); }
  bool is_session_uid(uid_t uid) const override { return m_pool.is_session_uid(uid); }

  Result<void> remove_set_aside_files() override {
    std::lock_guard lock(m_mutex);
    m_set_aside.clear();
    return success();
  }

  // For tests.
  /// Give each session a uid of its own from `count` uids starting at 700000.
  void use_uid_pool(uid_t count) {
    std::vector<Credentials> members;
    for (uid_t i = 0; i < count; ++i) members.push_back({700000 + i, 700000 + i});
    std::lock_guard lock(m_mutex);
    m_pool = SessionUidPool::of(members, "fake uids");
  }
  int releases() const {
    std::lock_guard lock(m_mutex);
    return m_releases;
  }
  /// Files moved out of the way but not yet removed.
  size_t set_aside_count() const {
    std::lock_guard lock(m_mutex);
    return m_set_aside.size();
  }
  /// A browser an earlier daemon started: alive, with files, not spawned here.
  pid_t add_running(const std::string& id) {
    std::lock_guard lock(m_mutex);
    pid_t pid = m_next_pid++;
    m_browsers[pid] = FakeBrowser{id, pid, 1000u + static_cast<uint64_t>(pid), true};
    m_files.insert(id);
    return pid;
  }
  void add_files(const std::string& id) {
    std::lock_guard lock(m_mutex);
    m_files.insert(id);
  }
  /// The main process ends: the exit callback runs on this thread, as the
  /// watcher's would on its own.
  void exit(pid_t pid, ExitStatus status) {
    ExitCallback callback;
    {
      std::lock_guard lock(m_mutex);
      if (!m_browsers.count(pid)) return;
      m_browsers.at(pid).alive = false;
      auto it = m_watched.find(pid);
      if (it == m_watched.end()) return;
      callback = std::move(it->second);
      m_watched.erase(it);
    }
    callback(status);
  }
  /// wait_until_ready() blocks until release_ready() (or its timeout).
  void hold_ready() {
    std::lock_guard lock(m_mutex);
    m_holding = true;
  }
  void release_ready() {
    {
      std::lock_guard lock(m_mutex);
      m_holding = false;
    }
    m_ready_changed.notify_all();
  }
  int waiting_for_ready() const {
    std::lock_guard lock(m_mutex);
    return m_waiting;
  }
  /// The most browsers that were in their grace period at the same time.
  int graces_at_once() const {
    std::lock_guard lock(m_mutex);
    return m_graces_at_once;
  }
  /// The browser's pages moved these bytes through its way out.
  void count_network(pid_t pid, uint64_t bytes_in, uint64_t bytes_out) {
    std::lock_guard lock(m_mutex);
    EgressCounters counts;
    counts.bytes_in = bytes_in;
    counts.bytes_out = bytes_out;
    m_browsers.at(pid).egress_counts = counts;
  }
  /// Its way out found it past its cap: the callback runs on this thread,
  /// as it would on the relay's. False if it was never capped.
  bool go_over_network_cap(pid_t pid) {
    std::function<void()> callback;
    {
      std::lock_guard lock(m_mutex);
      callback = m_browsers.at(pid).over_network_cap;
    }
    if (!callback) return false;
    callback();
    return true;
  }
  FakeBrowser browser(pid_t pid) const {
    std::lock_guard lock(m_mutex);
    return m_browsers.at(pid);
  }
  bool has_files(const std::string& id) const {
    std::lock_guard lock(m_mutex);
    return m_files.count(id) > 0;
  }
  size_t files_count() const {
    std::lock_guard lock(m_mutex);
    return m_files.size();
  }
  size_t alive_count() const {
    std::lock_guard lock(m_mutex);
    size_t alive = 0;
    for (const auto& [pid, browser] : m_browsers) alive += browser.alive;
    return alive;
  }

  std::optional<Error> fail_spawn, fail_release, fail_ready;
  bool ways_out_cannot_cap = false;  ///< every browser's network_cap_possible() (the kernel way out's: false)
  std::set<uid_t> unsweepable;  ///< uids whose sweep fails
  bool exits_on_sigterm = true;
  /// wait_until_ready() answers even when the browser has exited meanwhile
  /// (it answered just before it died).
  bool ready_despite_exit = false;

 private:
  class Process : public BrowserProcess {
   public:
    Process(FakeBrowserLauncher& launcher, pid_t pid) : m_launcher(launcher), m_pid(pid) {}
    pid_t pid() const override { return m_pid; }
    std::optional<uid_t> own_uid() const override { return m_launcher.browser(m_pid).uid; }
    uint64_t start_time() const override { return m_launcher.browser(m_pid).start_time; }
    Result<void> release() override { return m_launcher.release(m_pid); }
    Result<Endpoints> wait_until_ready(std::chrono::milliseconds timeout) override {
      return m_launcher.wait_until_ready(m_pid, timeout);
    }
    Result<void> still_listening() override {
      if (!m_launcher.browser(m_pid).alive) return Error::make(ECHILD, "the browser exited");
      return success();
    }
    /// A warm chromedriver's browser "started": a port to attach to.
    Result<uint16_t> start_warm_driver_browser(const std::string&, std::chrono::milliseconds) override {
      return uint16_t{9333};
    }
    bool ask_to_exit(std::chrono::milliseconds grace) override { return m_launcher.ask_to_exit(m_pid, grace); }
    bool kill() override { return m_launcher.kill(m_pid); }
    std::string log_tail() const override { return "fake browser log"; }
    Result<void> remove_files() override { return m_launcher.remove_files(m_pid); }
    std::optional<EgressCounters> egress() const override { return m_launcher.browser(m_pid).egress_counts; }
    void cap_network(uint64_t max_bytes, std::function<void()> over_cap) override {
      std::lock_guard lock(m_launcher.m_mutex);
      m_launcher.m_browsers.at(m_pid).network_cap = max_bytes;
      m_launcher.m_browsers.at(m_pid).over_network_cap = std::move(over_cap);
    }
    bool network_cap_possible() const override { return !m_launcher.ways_out_cannot_cap; }
    void restart_network_counts() override {
      std::lock_guard lock(m_launcher.m_mutex);
      ++m_launcher.m_browsers.at(m_pid).network_count_restarts;
    }

   private:
    FakeBrowserLauncher& m_launcher;
    pid_t m_pid;
  };

  Result<void> release(pid_t pid) {
    std::lock_guard lock(m_mutex);
    if (fail_release) return *fail_release;
    m_browsers.at(pid).released = true;
    return success();
  }

  Result<Endpoints> wait_until_ready(pid_t pid, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    ++m_waiting;
    m_ready_changed.wait_for(lock, timeout, [this] { return !m_holding; });
    --m_waiting;
    if (m_holding) return Error::make(ETIMEDOUT, "the browser did not open DevTools in time");
    if (fail_ready) return *fail_ready;
    if (!m_browsers.at(pid).alive && !ready_despite_exit)
      return Error::make(ECHILD, "the browser exited during start-up");
    Endpoints endpoints;
    endpoints.devtools_http = "http://127.0.0.1:" + std::to_string(pid);
    return endpoints;
  }

  // A browser that ignores SIGTERM keeps the caller for the whole grace
  // period, as the real poll on its pidfd does.
  bool ask_to_exit(pid_t pid, std::chrono::milliseconds grace) {
    if (grace.count() <= 0) return false;
    std::unique_lock lock(m_mutex);
    ++m_browsers.at(pid).sigterms;
    if (!exits_on_sigterm) {
      m_graces_at_once = std::max(m_graces_at_once, ++m_in_grace);
      lock.unlock();
      std::this_thread::sleep_for(grace);
      lock.lock();
      --m_in_grace;
      return false;
    }
    lock.unlock();
    exit(pid, ExitStatus{0, SIGTERM});
    return true;
  }

  bool kill(pid_t pid) {
    exit(pid, ExitStatus{0, SIGKILL});
    return true;
  }

  Result<void> remove_files(pid_t pid) {
    std::lock_guard lock(m_mutex);
    const auto& id = m_browsers.at(pid).id;
    if (m_files.erase(id)) m_set_aside.insert(id);
    return success();
  }

  mutable std::mutex m_mutex;
  std::condition_variable m_ready_changed;
  std::map<pid_t, FakeBrowser> m_browsers;
  std::map<pid_t, ExitCallback> m_watched;
  std::set<std::string> m_files, m_set_aside;
  pid_t m_next_pid = 40000;
  bool m_holding = false;
  int m_waiting = 0;
  int m_in_grace = 0, m_graces_at_once = 0;
  int m_releases = 0;
  SessionUidPool m_pool = SessionUidPool::shared({0, 0}, "fake: shared");
};

}  // namespace corral::testing
