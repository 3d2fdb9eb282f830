// The terminal of a live view: the alternate screen (so the shell's screen
// comes back as it was), no cursor, keys read one at a time without echo.
// The destructor puts every one of these back, whichever way the view ends.
#pragma once

#include <termios.h>

#include <string>
#include <vector>

#include "top_render.hpp"

namespace corralctl {

/// The size of the terminal on `fd`, or {0, 0} when it is not one.
Screen terminal_size(int fd);

/// Write all of `text` to `fd`. False when the reader is gone (EPIPE, EIO).
bool write_all(int fd, const std::string& text);

class LiveTerminal {
 public:
  /// Takes over the terminal on stdout; keys come from stdin when it is a
  /// terminal too.
  LiveTerminal();
  ~LiveTerminal();
  LiveTerminal(const LiveTerminal&) = delete;
  LiveTerminal& operator=(const LiveTerminal&) = delete;

  /// Redraw the whole screen with `lines`, in one write. False when the
  /// terminal is gone.
  bool draw(const std::vector<std::string>& lines);
  /// The fd to wait on for keys, or -1.
  int key_fd() const { return m_keys_open ? 0 : -1; }
  /// The keys typed since the last call ("" at end of input, which also
  /// stops key_fd()).
  std::string read_keys();

 private:
  bool m_keys_mode = false;  ///< stdin's terminal mode was changed: put it back
  bool m_keys_open = false;  ///< stdin still gives keys
  struct termios m_saved_mode {};
};

}  // namespace corralctl
