#include "corral/api/connection_stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

namespace corral {

namespace {

using namespace std::chrono;

// Waits are cut into slices this long, to notice a stopping server.
constexpr milliseconds kStopCheck(200);

void describe_address(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    port = ntohs(v6.sin6_port);
  } else {
    port = 0;
    ip = address.ss_family == AF_UNIX ? "unix" : "";
    return;
  }
  ip = text;
}

}  // namespace

RequestStream::RequestStream(int fd, const ConnectionLimits& limits, std::function<bool()> stopping)
    : m_fd(fd), m_limits(limits), m_stopping(std::move(stopping)) {}

bool RequestStream::wait_until(short events, Clock::time_point deadline, OnStop on_stop) const {
  for (;;) {
    auto left = duration_cast<milliseconds>(deadline - Clock::now());
    if (left <= milliseconds::zero() || (on_stop == OnStop::give_up && m_stopping())) return false;
    pollfd watch{m_fd, events, 0};
    int ready = ::poll(&watch, 1, static_cast<int>(std::min(left, kStopCheck).count()) + 1);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

bool RequestStream::wait_for_request(milliseconds timeout) {
  return m_begin < m_end || wait_until(POLLIN, Clock::now() + timeout, OnStop::give_up);
}

void RequestStream::begin_request() {
  m_request_deadline = Clock::now() + m_limits.request_time;
  m_response_deadline.reset();
  m_failure = ReadFailure::none;
  m_in_body = false;
  m_head_bytes = m_body_bytes = m_lines = m_line_bytes = 0;
  m_line_has_text = false;
}

RequestStream::Clock::time_point RequestStream::read_deadline() const {
  return std::min(Clock::now() + m_limits.idle, m_request_deadline);
}

bool RequestStream::is_readable() const {
  return m_begin < m_end || wait_until(POLLIN, read_deadline(), OnStop::give_up);
}

bool RequestStream::is_writable() const {
  auto deadline = Clock::now() + m_limits.idle;
  if (m_response_deadline) deadline = std::min(deadline, *m_response_deadline);
  // An answer under way is finished even when the server stops.
  return wait_until(POLLOUT, deadline, OnStop::carry_on);
}

bool RequestStream::fail(ReadFailure failure) {
  m_failure = failure;
  return false;
}

// Refill the empty buffer; false at end of input or on a failure (then
// m_failure says which, or stays none for a closed or broken connection).
bool RequestStream::fill_buffer() {
  for (;;) {
    if (!wait_until(POLLIN, read_deadline(), OnStop::give_up)) {
      if (m_stopping()) return fail(ReadFailure::shutting_down);
      return fail(Clock::now() >= m_request_deadline ? ReadFailure::too_slow : ReadFailure::idle);
    }
    ssize_t n = ::recv(m_fd, m_buffer.data(), m_buffer.size(), MSG_DONTWAIT);
    if (n > 0) {
      m_begin = 0;
      m_end = static_cast<size_t>(n);
      return true;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) return false;
  }
}

// The head ends at its first empty line; httplib reads it a byte at a time.
// A line is counted with its CRLF, as httplib counts it for its own limits.
bool RequestStream::count_head_byte(char byte) {
  ++m_head_bytes;
  ++m_line_bytes;
  if (m_line_bytes > m_limits.max_line)
    return fail(m_lines == 0 ? ReadFailure::line_too_long : ReadFailure::head_too_large);
  if (m_head_bytes > m_limits.max_head) return fail(ReadFailure::head_too_large);
  if (byte == '\n') {
    if (!m_line_has_text && m_lines > 0) m_in_body = true;
    ++m_lines;
    m_line_bytes = 0;
    m_line_has_text = false;
  } else if (byte != '\r') {
    m_line_has_text = true;
  }
  return true;
}

bool RequestStream::count_delivered(const char* bytes, size_t size) {
  size_t i = 0;
  for (; i < size && !m_in_body; ++i)
    if (!count_head_byte(bytes[i])) return false;
  m_body_bytes += size - i;
  return m_body_bytes <= m_limits.max_body || fail(ReadFailure::body_too_large);
}

ssize_t RequestStream::read(char* ptr, size_t size) {
  if (m_failure != ReadFailure::none) return -1;
  // A closed or broken connection reads as the end of input (0), a broken limit as an error.
  if (m_begin == m_end && !fill_buffer()) return m_failure == ReadFailure::none ? 0 : -1;
  size_t n = std::min(size, m_end - m_begin);
  if (!count_delivered(m_buffer.data() + m_begin, n)) return -1;
  std::copy_n(m_buffer.data() + m_begin, n, ptr);
  m_begin += n;
  return static_cast<ssize_t>(n);
}

ssize_t RequestStream::write(const char* ptr, size_t size) {
  if (!m_response_deadline) m_response_deadline = Clock::now() + m_limits.response_time;
  for (;;) {
    if (!is_writable()) return -1;
    ssize_t n = ::send(m_fd, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno != EAGAIN && errno != EINTR) return -1;
  }
}

void RequestStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(m_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) describe_address(address, ip, port);
}

void RequestStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) describe_address(address, ip, port);
}

}  // namespace corral
