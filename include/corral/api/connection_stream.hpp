// RequestStream: the httplib::Stream corrald reads requests from and writes
// answers to. httplib 0.11.4's own stream only times each read (5 s), so a
// client that trickles a byte every few seconds, or sends headers without
// end, holds a worker thread for as long as it likes. This stream also
// bounds the time a whole request may take to arrive and the bytes of its
// head and body; a request that breaks a limit fails to read, and the
// failure() says which limit it was.
#pragma once

#include <httplib.h>

#include <array>
#include <chrono>
#include <functional>
#include <optional>

namespace corral {

/// What one connection may cost. docs/operators.md lists these values.
struct ConnectionLimits {
  /// Longest wait for the next byte of a request (the first request's
  /// first byte included), or for the client to take the next bytes of an answer.
  std::chrono::milliseconds idle{5000};
  /// Reading one whole request: request line, headers and body.
  std::chrono::milliseconds request_time{10000};
  /// Writing one whole answer.
  std::chrono::milliseconds response_time{10000};
  /// An open connection between two requests.
  std::chrono::milliseconds keep_alive_idle{2000};
  /// Requests per connection; then the server closes it.
  size_t keep_alive_requests = 20;
  /// The request line, and each header line, CRLF included (httplib's own
  /// limit for both is the same 8 KiB; this one stops reading at once).
  size_t max_line = 8 * 1024;
  /// Request line and all headers together (httplib has no count limit).
  size_t max_head = 32 * 1024;
  /// Body bytes as sent, chunk framing included (httplib takes chunked
  /// bodies, and bodies without a length, of any size).
  size_t max_body = 68 * 1024;
};

/// Why reading a request stopped; none while all is well.
enum class ReadFailure { none, idle, too_slow, line_too_long, head_too_large, body_too_large, shutting_down };

class RequestStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  /// stopping is asked while waiting, so a stopping server is not held up.
  RequestStream(int fd, const ConnectionLimits& limits, std::function<bool()> stopping);

  /// Wait up to `timeout` for the first byte of the next request. False if
  /// none came (or the server is stopping); the connection should close.
  bool wait_for_request(std::chrono::milliseconds timeout);
  /// Start the clock and the byte budgets for the request that is arriving.
  void begin_request();
  ReadFailure failure() const { return m_failure; }
  /// True once anything of the answer to the current request was written.
  bool answered() const { return m_response_deadline.has_value(); }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return m_fd; }

 private:
  enum class OnStop { give_up, carry_on };
  bool wait_until(short events, Clock::time_point deadline, OnStop on_stop) const;
  Clock::time_point read_deadline() const;
  bool fill_buffer();
  bool count_delivered(const char* bytes, size_t size);
  bool count_head_byte(char byte);
  bool fail(ReadFailure failure);  ///< records it; returns false

  int m_fd;
  ConnectionLimits m_limits;
  std::function<bool()> m_stopping;
  std::array<char, 4096> m_buffer{};
  size_t m_begin = 0, m_end = 0;  ///< m_buffer[m_begin, m_end) is read but not yet delivered

  // The current request.
  Clock::time_point m_request_deadline{};
  std::optional<Clock::time_point> m_response_deadline;
  ReadFailure m_failure = ReadFailure::none;
  bool m_in_body = false;
  size_t m_head_bytes = 0, m_body_bytes = 0, m_lines = 0, m_line_bytes = 0;
  bool m_line_has_text = false;
};

}  // namespace corral
