#include "corral/server/connection_limits.hpp"

namespace corral {

namespace {

std::string in_seconds(std::chrono::milliseconds duration) { return std::to_string(duration.count() / 1000) + " s"; }

std::string kib(size_t bytes) { return std::to_string(bytes / 1024) + " KiB"; }

}  // namespace

// The head ends at its first empty line. A line is counted with its CRLF.
// An empty line before the request line is not the end (RFC 9112, 2.2).
ReadFailure RequestMeter::count_head_byte(char byte) {
  ++m_head_bytes;
  ++m_line_bytes;
  if (m_line_bytes > m_limits->max_line) return m_lines == 0 ? ReadFailure::line_too_long : ReadFailure::head_too_large;
  if (m_head_bytes > m_limits->max_head) return ReadFailure::head_too_large;
  if (byte == '\n') {
    if (!m_line_has_text && m_lines > 0) m_head_done = true;
    if (m_line_has_text) ++m_lines;
    m_line_bytes = 0;
    m_line_has_text = false;
  } else if (byte != '\r') {
    m_line_has_text = true;
  }
  return ReadFailure::none;
}

ReadFailure RequestMeter::count_head(std::string_view bytes) {
  for (char byte : bytes) {
    if (m_head_done) break;
    if (auto failure = count_head_byte(byte); failure != ReadFailure::none) return failure;
  }
  return ReadFailure::none;
}

ReadFailure RequestMeter::count_body(size_t n) {
  m_body_bytes += n;
  return m_body_bytes > m_max_body ? ReadFailure::body_too_large : ReadFailure::none;
}

std::optional<LimitAnswer> limit_answer(ReadFailure failure, const ConnectionLimits& limits) {
  switch (failure) {
    case ReadFailure::none: return std::nullopt;
    case ReadFailure::idle:
      return LimitAnswer{408, "request_timeout", "no byte of the request came for " + in_seconds(limits.idle)};
    case ReadFailure::too_slow:
      return LimitAnswer{408, "request_timeout",
                         "the request did not arrive in full within " + in_seconds(limits.request_time)};
    case ReadFailure::line_too_long:
      return LimitAnswer{414, "uri_too_long", "the request line is longer than " + kib(limits.max_line)};
    case ReadFailure::head_too_large:
      return LimitAnswer{431, "headers_too_large",
                         "a header line is longer than " + kib(limits.max_line) + ", or all headers than " +
                             kib(limits.max_head)};
    case ReadFailure::body_too_large:
      return LimitAnswer{413, "too_large", "request body is too large (limit " + kib(limits.max_body) + " as sent)"};
    case ReadFailure::shutting_down:
      return LimitAnswer{503, "unavailable", "corrald is shutting down"};
  }
  return std::nullopt;
}

}  // namespace corral
