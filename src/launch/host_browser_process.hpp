// A session's browser on this host, as HostBrowserLauncher spawns or
// adopts it: its process, its files, its way out and resolver. Private to
// src/launch (host_launcher.cpp alone makes them).
#pragma once

#include <signal.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <future>

#include "corral/launch/chromedriver_guard.hpp"
#include "corral/launch/gated_child.hpp"
#include "corral/launch/host_launcher.hpp"
#include "corral/launch/session_dirs.hpp"
#include "corral/launch/session_proxy.hpp"
#include "corral/launch/session_resolver.hpp"
#include "corral/launch/session_way_out.hpp"
#include "corral/launch/uid_sweep.hpp"
#include "corral/launch/warm_driver.hpp"
#include "corral/util/file_io.hpp"
#include "corral/util/process_identity.hpp"

namespace corral {


// A session's browser on this host. `child` is set while it waits at the
// gate (spawned by us); an adopted browser has only its pidfd.
class HostBrowserProcess : public BrowserProcess {
 public:
  HostBrowserProcess(const std::string& state_dir, BrowserKind kind, SessionDirs dirs, uint16_t port,
                     std::string url_base, Pidfd pidfd, uint64_t start_time, std::optional<GatedChild> child,
                     std::optional<uid_t> own_uid, bool own_network, const HostLauncherConfig& config,
                     SessionNetwork network = {})
      : m_state_dir(state_dir), m_kind(kind), m_dirs(std::move(dirs)), m_port(port), m_url_base(std::move(url_base)),
        m_pidfd(std::move(pidfd)), m_start_time(start_time), m_child(std::move(child)), m_own_uid(own_uid),
        m_own_network(own_network), m_egress(config.egress), m_dns(config.dns), m_network(std::move(network)) {}

  ~HostBrowserProcess() override {
    if (m_kernel_opening.valid()) m_kernel_opening.wait();  // it uses our namespace's descriptor
  }

  std::optional<uid_t> own_uid() const override { return m_own_uid; }

  pid_t pid() const override { return m_pidfd.pid(); }
  uint64_t start_time() const override { return m_start_time; }
  const Pidfd& pidfd() const { return m_pidfd; }

  Result<void> release() override {
    if (!m_child) return Error::make(EINVAL, "this browser was not started at a gate");
    auto released = m_child->release();
    if (!released) return Error::make(ECHILD, "cannot run the browser: " + released.error().message);
    if (!m_own_network) return success();
    // Our child, not yet reaped: its pid names it and nothing else.
    auto network = SessionNetwork::of_process(m_pidfd.pid());
    if (!network) return Error::make(ECHILD, "cannot find the browser's network: " + network.error().message);
    m_network = std::move(*network);
    // Before the browser is ready, and so before any page loads: a page
    // never finds the proxy port closed.
    if (auto opened = open_way_out(); !opened)
      return Error::make(ECHILD, "cannot give the browser its way out: " + opened.error().message);
    return success();
  }

  /// The session's way out and its resolver, in its own network (once
  /// after release, or at adoption: the browser's --proxy-server still names
  /// the same port, its resolv.conf the same resolver).
  Result<void> open_way_out() {
    if (!m_network.own() || !m_egress) return success();
    if (m_kernel) return open_kernel_way_out();
    CORRAL_TRY_ASSIGN(auto way_out, SessionWayOut::open(*m_egress, session_id(), m_network,
                                                        {m_runs_as, m_proxy, m_egress_lists}));
    std::lock_guard lock(m_way_out_mutex);
    m_way_out = std::move(way_out);
    open_resolver();
    if (m_cap) return m_way_out.cap(m_cap->max_bytes, m_cap->over_cap);
    return success();
  }

  /// The kernel way out instead of the relay; `opened`: an earlier run's, adopted.
  void set_kernel_way_out(KernelWayOut* kernel, bool opened = false) {
    m_kernel = kernel;
    m_kernel_open = opened;
  }

  // Its veth is made while the browser starts (a few ms of netlink against
  // its few hundred): kernel_way_out_opened() waits for it before the
  // session is ready, so no page loads before its way out is there.
  Result<void> open_kernel_way_out() {
    if (!m_kernel_open)
      m_kernel_opening = std::async(std::launch::async, [kernel = m_kernel, id = session_id(), netns = m_network.fd()] {
        return kernel->open(id, netns);
      });
    std::lock_guard lock(m_way_out_mutex);
    open_resolver();
    return success();
  }

  Result<void> kernel_way_out_opened() {
    if (!m_kernel_opening.valid()) return success();
    auto opened = m_kernel_opening.get();
    if (!opened) return Error::make(ECHILD, "cannot give the browser its way out: " + opened.error().message);
    std::lock_guard lock(m_way_out_mutex);
    m_kernel_open = true;
    return success();
  }

  bool network_cap_possible() const override { return m_kernel == nullptr; }

  void cap_network(uint64_t max_bytes, std::function<void()> over_cap) override {
    if (m_kernel) {  // a capped session is given the relay (kernel_way_out_for): a warm one claimed later is not
      spdlog::error("session {}: its network cap is not applied: the kernel way out counts, it does not cap",
                    session_id());
      return;
    }
    std::lock_guard lock(m_way_out_mutex);
    m_cap = NetworkCap{max_bytes, std::move(over_cap)};
    if (!m_way_out.open()) return;  // open_way_out() applies it
    if (auto capped = m_way_out.cap(m_cap->max_bytes, m_cap->over_cap); !capped)
      spdlog::error("session {}: its network cap is not applied: {}", session_id(), capped.error().message);
  }

  void restart_network_counts() override {
    std::lock_guard lock(m_way_out_mutex);
    if (m_egress) m_egress->restart_counts(session_id());
    if (m_dns) m_dns->restart_counts(session_id());
    if (m_kernel && m_kernel_open) m_kernel_baseline = m_kernel->counters(session_id()).value_or(EgressCounters{});
    m_resolver_bytes->in = m_resolver_bytes->out = 0;
  }

  // Without m_way_out_mutex: past the cap, add_bytes ends the session on
  // this thread, and the manager reads counts (egress()) under its own lock.
  // The kernel way out's counters outlived the crash in its table: nothing to add.
  void count_earlier_bytes(uint64_t bytes_in, uint64_t bytes_out) override {
    if (m_kernel) return;
    if (m_egress && (bytes_in || bytes_out)) m_egress->add_bytes(session_id(), bytes_in, bytes_out);
  }

  // Without it the session's own lookups fail, and its pages still load
  // (Chrome hands their names to the way out): said, not fatal. A session
  // with an upstream proxy gets none: its names are the proxy's to resolve,
  // and the host's resolver would see them around the proxy.
  void open_resolver() {
    if (!m_dns || m_proxy) return;
    // Its queries leave the namespace as its pages' bytes do: counted with
    // them, against the same cap (docs/network.md, "Bytes counted").
    // On the kernel way out no relay counts them: kept here, added to the table's counts.
    auto count = [egress = m_kernel ? nullptr : m_egress, id = session_id(), kept = m_resolver_bytes](
                     uint64_t bytes_in, uint64_t bytes_out) {
      if (egress) return egress->add_bytes(id, bytes_in, bytes_out);
      kept->in += bytes_in;
      kept->out += bytes_out;
    };
    auto resolver = SessionResolver::open(*m_dns, session_id(), m_network, count);
    if (resolver) m_resolver = std::move(*resolver);
    else spdlog::error("session {}: no resolver on its 127.0.0.1:53: {}", session_id(), resolver.error().message);
  }

  SessionNetwork network() const override { return m_network; }

  /// The uid its processes run as (its own, or the shared session user):
  /// what a host service sees connecting for its pages.
  void set_runs_as(std::optional<uid_t> uid) { m_runs_as = uid; }
  /// Where its way out carries every connection (upstream_proxy.hpp).
  void set_proxy(std::optional<UpstreamProxy> proxy) {
    if (proxy) m_proxy = std::make_shared<const UpstreamProxy>(std::move(*proxy));
  }
  /// The session's own egress lists, for its way out (before it opens).
  void set_egress(EgressLists egress) { m_egress_lists = std::move(egress); }

  std::optional<EgressCounters> egress() const override {
    std::lock_guard lock(m_way_out_mutex);
    if (m_kernel) return kernel_counts(m_kernel_open ? m_kernel->counters(session_id()) : m_kernel_last);
    return m_way_out.counters();
  }

  std::optional<DnsCounters> dns() const override {
    std::lock_guard lock(m_way_out_mutex);
    return m_resolver.counters();
  }

  Result<Endpoints> wait_until_ready(std::chrono::milliseconds timeout) override {
    auto ready = m_kind == BrowserKind::chrome ? wait_for_devtools(m_network, m_dirs.profile, m_pidfd.get(), timeout)
                                               : wait_for_webdriver(m_network, m_port, m_url_base, m_pidfd.get(), timeout);
    auto opened = kernel_way_out_opened();
    if (ready && !opened) return opened.error();
    return ready;
  }

  Result<void> still_listening() override {
    if (m_kind == BrowserKind::chrome) return devtools_still_listening(m_network, m_dirs.profile, m_pidfd.get());
    if (m_warm_browser_port) return warm_driver_still_listening(m_network, m_port, m_warm_browser_port, m_pidfd.get());
    CORRAL_TRY(wait_for_webdriver(m_network, m_port, m_url_base, m_pidfd.get(), std::chrono::seconds(2)));
    return success();
  }

  Result<uint16_t> start_warm_driver_browser(const std::string& new_session_body,
                                             std::chrono::milliseconds timeout) override {
    if (m_kind != BrowserKind::chromedriver) return BrowserProcess::start_warm_driver_browser(new_session_body, timeout);
    CORRAL_TRY_ASSIGN(m_warm_browser_port,
                      corral::start_warm_driver_browser(m_network, m_port, m_url_base, new_session_body, timeout));
    return m_warm_browser_port;
  }

  // Chrome on SIGTERM shuts down cleanly (its profile is flushed); the
  // helpers that outlive it are what cgroup.kill is for.
  bool ask_to_exit(std::chrono::milliseconds grace) override {
    if (grace.count() <= 0) return false;
    if (auto sent = m_pidfd.send_signal(SIGTERM); !sent) return sent.error().code == ESRCH;
    return m_pidfd.wait_exit(grace);
  }

  bool kill() override {
    if (m_child) m_child->abort();
    else (void)m_pidfd.send_signal(SIGKILL);
    return m_pidfd.wait_exit(std::chrono::seconds(1));
  }

  std::string log_tail() const override {
    auto text = read_file_tail(m_dirs.log(), 600);
    if (!text) return "";
    std::string tail = std::move(*text);
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    return tail;
  }

  Result<void> remove_files() override {
    (void)kernel_way_out_opened();  // a start that failed before it was awaited: its device goes too
    {
      std::lock_guard lock(m_way_out_mutex);  // the session is over: so are its connections out
      m_way_out.close();
      m_resolver.close();
      if (m_kernel && m_kernel_open) {
        m_kernel_last = m_kernel->counters(session_id());
        m_kernel->close(session_id());
        m_kernel_open = false;
      }
    }
    if (m_proxy) forget_session_proxy(session_id());
    return set_aside_session_dir(m_state_dir, session_id());
  }

  std::string session_id() const { return m_dirs.base.filename().string(); }

 private:
  std::filesystem::path m_state_dir;
  BrowserKind m_kind;
  SessionDirs m_dirs;
  uint16_t m_port;         ///< chromedriver's
  std::string m_url_base;  ///< chromedriver's secret --url-base
  uint16_t m_warm_browser_port = 0;  ///< a warm chromedriver's browser's DevTools port; 0: none
  Pidfd m_pidfd;
  uint64_t m_start_time;
  std::optional<GatedChild> m_child;
  std::optional<uid_t> m_own_uid;
  std::optional<uid_t> m_runs_as;  ///< set by the launcher; none: corrald's own uid
  std::shared_ptr<const UpstreamProxy> m_proxy;  ///< the session's upstream proxy; null: none
  EgressLists m_egress_lists;      ///< the session's narrowing, set by the launcher
  bool m_own_network;        ///< started in namespaces of its own (LaunchSpec::own_namespaces)
  EgressRelay* m_egress;     ///< serves its way out; null: none (shared network)
  DnsForwarder* m_dns;       ///< serves its resolver; null: none
  SessionNetwork m_network;  ///< its namespace once released or adopted; empty: corrald's
  mutable std::mutex m_way_out_mutex;  ///< egress() is asked from any thread; guards what follows
  SessionWayOut m_way_out;
  SessionResolver m_resolver;
  KernelWayOut* m_kernel = nullptr;  ///< its way out instead of m_way_out; null: the relay's
  bool m_kernel_open = false;
  std::future<Result<void>> m_kernel_opening;  ///< its veth being made, from release() to kernel_way_out_opened()
  std::optional<EgressCounters> m_kernel_last;  ///< its counts when its device went
  EgressCounters m_kernel_baseline;             ///< the table's counts at a warm claim, taken off
  struct ResolverBytes {
    std::atomic<uint64_t> in{0}, out{0};
  };
  std::shared_ptr<ResolverBytes> m_resolver_bytes = std::make_shared<ResolverBytes>();  ///< kernel way out's

  // Under m_way_out_mutex: the table's counts since the claim, its resolver's bytes added.
  std::optional<EgressCounters> kernel_counts(std::optional<EgressCounters> table) const {
    if (!table) return table;
    table->bytes_in = table->bytes_in - std::min(table->bytes_in, m_kernel_baseline.bytes_in) + m_resolver_bytes->in;
    table->bytes_out =
        table->bytes_out - std::min(table->bytes_out, m_kernel_baseline.bytes_out) + m_resolver_bytes->out;
    for (size_t i = 0; i < table->refused.size(); ++i)
      table->refused[i] -= std::min(table->refused[i], m_kernel_baseline.refused[i]);
    return table;
  }
  struct NetworkCap {
    uint64_t max_bytes;
    std::function<void()> over_cap;
  };
  std::optional<NetworkCap> m_cap;  ///< cap_network()'s, kept for a way out not open yet
};

}  // namespace corral
