// What one API connection may cost, and the meter that holds a request to
// it as its bytes arrive. A request that breaks a limit is answered with a
// JSON 408/413/414/431 and its connection closed (http_connection.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace corral {

/// What one connection may cost. docs/operators.md lists these values.
struct ConnectionLimits {
  /// Longest wait for the next byte of a request (the first request's
  /// first byte included).
  std::chrono::milliseconds idle{5000};
  /// Reading one whole request: request line, headers and body.
  std::chrono::milliseconds request_time{10000};
  /// Writing one whole answer.
  std::chrono::milliseconds response_time{10000};
  /// An open connection between two requests. Long enough for a bot's
  /// pauses between commands (docs/operators.md says why 30 s).
  std::chrono::milliseconds keep_alive_idle{30000};
  /// A connection's whole life: the answer that ends past it closes it.
  /// Not a count of requests: Grid's relay node sends a host's commands
  /// over one connection, and should not reconnect every few of them.
  std::chrono::milliseconds keep_alive_lifetime{std::chrono::minutes(10)};
  /// The request line, and each header line, CRLF included.
  size_t max_line = 8 * 1024;
  /// Request line and all headers together.
  size_t max_head = 32 * 1024;
  /// Body bytes as sent, chunk framing included; a Content-Length above it
  /// is refused before the body is read.
  size_t max_body = 68 * 1024;
};

/// Why reading a request stopped; none while all is well.
enum class ReadFailure { none, idle, too_slow, line_too_long, head_too_large, body_too_large, shutting_down };

/// Counts the bytes of one request's head as they arrive, line by line,
/// and its body bytes as sent. Pure: the connection feeds it.
class RequestMeter {
 public:
  explicit RequestMeter(const ConnectionLimits& limits) : m_limits(&limits), m_max_body(limits.max_body) {}

  /// Count the next bytes of the request; those past the empty line that
  /// ends the head are not counted (see head_done). line_too_long for a
  /// request line above max_line, head_too_large for a header line above
  /// it or a head above max_head; none while within the limits.
  ReadFailure count_head(std::string_view bytes);
  bool head_done() const { return m_head_done; }
  /// Count n body bytes as sent: body_too_large past max_body.
  ReadFailure count_body(size_t n);
  /// A route that takes larger bodies (a WebDriver new session) raises
  /// max_body for this request only.
  void allow_body(size_t max_body) { m_max_body = max_body; }
  size_t max_body() const { return m_max_body; }

 private:
  ReadFailure count_head_byte(char byte);

  const ConnectionLimits* m_limits;
  size_t m_max_body;
  size_t m_head_bytes = 0, m_body_bytes = 0, m_lines = 0, m_line_bytes = 0;
  bool m_line_has_text = false, m_head_done = false;
};

/// The answer to a request that broke a connection limit.
struct LimitAnswer {
  int status;        ///< 408, 413, 414, 431 or 503
  const char* code;  ///< the JSON error code
  std::string message;
};

/// The answer for a read failure; nullopt for none.
std::optional<LimitAnswer> limit_answer(ReadFailure failure, const ConnectionLimits& limits);

}  // namespace corral
