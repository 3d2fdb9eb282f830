#include "corral/launch/child_watcher.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace corral {
namespace {

constexpr uint64_t kSignalTag = 0;
constexpr uint64_t kWakeupTag = 1;

ExitStatus exit_status_of(const siginfo_t& info) {
  ExitStatus status;
  if (info.si_code == CLD_EXITED) status.code = info.si_status;
  else status.signal = info.si_status;
  status.core_dumped = info.si_code == CLD_DUMPED;
  return status;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (!known) return "ended (exit status unknown: not a child of this daemon)";
  if (signal == 0) return "exited with code " + std::to_string(code);
  std::string text = std::string("killed by signal ") + sigabbrev_np(signal);
  return core_dumped ? text + " (core dumped)" : text;
}

void block_daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

ChildWatcher::ChildWatcher() = default;

ChildWatcher::~ChildWatcher() { stop(); }

Result<void> ChildWatcher::start() {
  sigset_t sigchld;
  sigemptyset(&sigchld);
  sigaddset(&sigchld, SIGCHLD);
  m_signals.reset(::signalfd(-1, &sigchld, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!m_signals.valid()) return Error::from_errno(errno, "signalfd");
  m_wakeup.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!m_wakeup.valid()) return Error::from_errno(errno, "eventfd");
  m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!m_epoll.valid()) return Error::from_errno(errno, "epoll_create1");
  for (auto [fd, tag] : {std::pair{m_signals.get(), kSignalTag}, {m_wakeup.get(), kWakeupTag}}) {
    struct epoll_event event = {EPOLLIN, {.u64 = tag}};
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event) < 0)
      return Error::from_errno(errno, "epoll_ctl");
  }
  m_thread = std::thread([this] { run(); });
  return success();
}

void ChildWatcher::stop() {
  if (!m_thread.joinable()) return;
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  uint64_t one = 1;
  (void)!::write(m_wakeup.get(), &one, sizeof one);
  m_thread.join();
}

void ChildWatcher::watch(Pidfd pidfd, ExitCallback on_exit) {
  std::lock_guard lock(m_mutex);
  pid_t pid = pidfd.pid();
  struct epoll_event event = {EPOLLIN, {.u64 = static_cast<uint64_t>(pid)}};
  ::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, pidfd.get(), &event);
  m_watched[pid] = Watched{std::move(pidfd), std::move(on_exit)};
}

void ChildWatcher::run() {
  for (;;) {
    struct epoll_event events[16];
    int n = ::epoll_wait(m_epoll.get(), events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    {
      std::lock_guard lock(m_mutex);
      if (m_stopping || n < 0) return;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kSignalTag) {
        struct signalfd_siginfo ignored;
        while (::read(m_signals.get(), &ignored, sizeof ignored) > 0) {}
        reap_exited_children();
      } else if (events[i].data.u64 != kWakeupTag) {
        report_exit(static_cast<pid_t>(events[i].data.u64));
      }
    }
  }
}

void ChildWatcher::reap_exited_children() {
  for (;;) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    // WNOWAIT: look before reaping, so a watched process is reaped through its
    // pidfd and its status reaches its session.
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid == 0) return;
    bool watched;
    {
      std::lock_guard lock(m_mutex);
      watched = m_watched.count(info.si_pid) > 0;
    }
    if (watched) report_exit(info.si_pid);
    else ::waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

void ChildWatcher::report_exit(pid_t pid) {
  Watched watched;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_watched.find(pid);
    if (it == m_watched.end()) return;
    siginfo_t probe;
    memset(&probe, 0, sizeof probe);
    if (::waitid(static_cast<idtype_t>(P_PIDFD), it->second.pidfd.get(), &probe, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        probe.si_pid == 0)
      return;  // still running (spurious wake-up)
    watched = std::move(it->second);
    ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, watched.pidfd.get(), nullptr);
    m_watched.erase(it);
  }
  siginfo_t info;
  memset(&info, 0, sizeof info);
  ExitStatus status;
  if (::waitid(static_cast<idtype_t>(P_PIDFD), watched.pidfd.get(), &info, WEXITED) == 0)
    status = exit_status_of(info);
  else
    status.known = false;  // not our child (adopted), or reaped before it was watched
  watched.on_exit(status);
}

}  // namespace corral
