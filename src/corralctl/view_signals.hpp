// The signals of a view that runs until told to stop (`corralctl top`):
// SIGINT, SIGTERM and SIGHUP end it, SIGWINCH redraws it. They stay blocked
// except while the view waits, so they land there, never halfway through a
// request or a screen write, and the view always gets to put the terminal
// back. SIGPIPE is ignored: a reader that went away (`| head`) is a write
// error (EPIPE), and the view ends as cleanly as on 'q'.
#pragma once

#include <signal.h>

#include <chrono>

namespace corralctl {

class ViewSignals {
 public:
  enum class Event { timeout, input, stop, resize };

  ViewSignals();
  ~ViewSignals();
  ViewSignals(const ViewSignals&) = delete;
  ViewSignals& operator=(const ViewSignals&) = delete;

  /// Wait up to `timeout` for input on `fd` (-1: none) or one of the signals.
  Event wait(int fd, std::chrono::milliseconds timeout);

 private:
  sigset_t m_saved_mask;
  struct sigaction m_saved[5];
};

}  // namespace corralctl
