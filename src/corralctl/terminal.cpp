#include "terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace corralctl {
namespace {

constexpr const char* kEnter = "\x1b[?1049h\x1b[?25l";  // alternate screen, cursor hidden
constexpr const char* kLeave = "\x1b[?25h\x1b[?1049l";  // cursor shown, the shell's screen back

}  // namespace

Screen terminal_size(int fd) {
  struct winsize size = {};
  if (::ioctl(fd, TIOCGWINSZ, &size) < 0 || size.ws_col == 0) return {};
  return {size.ws_col, size.ws_row};
}

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

LiveTerminal::LiveTerminal() {
  if (::isatty(0) && ::tcgetattr(0, &m_saved_mode) == 0) {
    struct termios keys = m_saved_mode;
    keys.c_lflag &= ~(ICANON | ECHO);  // a key at a time, not shown; ^C still signals
    keys.c_cc[VMIN] = 0;
    keys.c_cc[VTIME] = 0;
    m_keys_mode = m_keys_open = ::tcsetattr(0, TCSANOW, &keys) == 0;
  }
  write_all(1, kEnter);
}

LiveTerminal::~LiveTerminal() {
  write_all(1, kLeave);
  if (m_keys_mode) ::tcsetattr(0, TCSANOW, &m_saved_mode);
}

bool LiveTerminal::draw(const std::vector<std::string>& lines) {
  // Home, then each line over the old one (erasing its tail), then erase
  // below: no full clear, so the screen does not flicker. No newline after
  // the last line, which would scroll a full screen.
  std::string screen = "\x1b[H";
  for (size_t i = 0; i < lines.size(); ++i) screen += lines[i] + "\x1b[K" + (i + 1 < lines.size() ? "\r\n" : "");
  screen += "\x1b[J";
  return write_all(1, screen);
}

std::string LiveTerminal::read_keys() {
  char buffer[64];
  ssize_t n = ::read(0, buffer, sizeof buffer);
  if (n == 0) m_keys_open = false;  // stdin closed: stop waiting on it
  if (n <= 0) return "";
  return std::string(buffer, static_cast<size_t>(n));
}

}  // namespace corralctl
