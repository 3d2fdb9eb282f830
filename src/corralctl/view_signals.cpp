#include "view_signals.hpp"

#include <poll.h>

#include <cerrno>

namespace corralctl {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGPIPE};

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_resize = 0;

void note_signal(int sig) {
  if (sig == SIGWINCH) g_resize = 1;
  else g_stop = 1;
}

}  // namespace

ViewSignals::ViewSignals() {
  g_stop = 0;
  g_resize = 0;
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaddset(&blocked, sig);
  sigprocmask(SIG_BLOCK, &blocked, &m_saved_mask);
  struct sigaction action = {};
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    action.sa_handler = kSignals[i] == SIGPIPE ? SIG_IGN : note_signal;
    sigaction(kSignals[i], &action, &m_saved[i]);
  }
}

ViewSignals::~ViewSignals() {
  for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &m_saved[i], nullptr);
  sigprocmask(SIG_SETMASK, &m_saved_mask, nullptr);
}

ViewSignals::Event ViewSignals::wait(int fd, std::chrono::milliseconds timeout) {
  // The signals are open only inside ppoll: one that arrived since the last
  // wait is pending and interrupts it at once.
  sigset_t open = m_saved_mask;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigdelset(&open, sig);
  struct pollfd input = {fd, POLLIN, 0};
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  struct timespec left = {static_cast<time_t>(seconds.count()),
                          static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count())};
  int ready = ::ppoll(&input, fd >= 0 ? 1 : 0, &left, &open);
  if (g_stop) return Event::stop;
  if (g_resize) {
    g_resize = 0;
    return Event::resize;
  }
  if (ready > 0) return Event::input;
  return Event::timeout;
}

}  // namespace corralctl
