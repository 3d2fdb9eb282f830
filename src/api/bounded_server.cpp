#include "corral/api/bounded_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corral/api/peer_identity.hpp"
#include "corral/api/request_framing.hpp"
#include "corral/api/session_json.hpp"

namespace corral {

namespace {

using namespace std::chrono;

struct Connection {
  RequestStream stream;
  const ConnectionLimits& limits;
  int fd;
  bool close_after_answer = false;  ///< the answer ends the connection (ends_connection)
  std::optional<std::optional<uid_t>> peer_uid;  ///< once asked
};

// The connection a worker thread serves, for the error handler and the
// post-routing handler, which httplib calls without the stream.
thread_local Connection* t_connection = nullptr;

std::string in_seconds(milliseconds duration) {
  return std::to_string(duration.count() / 1000) + " s";
}

std::string kib(size_t bytes) { return std::to_string(bytes / 1024) + " KiB"; }

// Closing a socket that still has unread input makes the kernel send a
// reset, which can destroy the answer before the client has read it. So
// send FIN first, then read and drop what the client still sends, bounded
// in time and bytes, and close.
void drain_and_close(int fd) {
  constexpr auto kLinger = milliseconds(1000);
  constexpr size_t kMaxDrained = 256 * 1024;
  ::shutdown(fd, SHUT_WR);
  auto until = steady_clock::now() + kLinger;
  char sink[4096];
  for (size_t drained = 0; drained < kMaxDrained;) {
    auto left = duration_cast<milliseconds>(until - steady_clock::now()).count();
    pollfd watch{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&watch, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
    drained += static_cast<size_t>(std::max<ssize_t>(n, 0));
  }
  ::close(fd);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    default: return "Service Unavailable";
  }
}

// A request that broke a limit before httplib could parse its request
// line gets no answer from httplib; it gets this one.
void answer_directly(RequestStream& stream, const LimitAnswer& answer) {
  std::string body = error_json(answer.code, answer.message).dump() + "\n";
  std::string response = "HTTP/1.1 " + std::to_string(answer.status) + " " + reason_phrase(answer.status) +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n\r\n" + body;
  for (size_t sent = 0; sent < response.size();) {
    ssize_t n = stream.write(response.data() + sent, response.size() - sent);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

// httplib answers 400 or 413 when it could not read a request (and our
// handlers 400 for a body they cannot parse); where the next request would
// start is then unknown, so the connection ends with the answer.
bool ends_connection(const httplib::Response& res) {
  return res.status == 400 || res.status == 413 || res.get_header_value("Connection") == "close" ||
         (t_connection && t_connection->stream.failure() != ReadFailure::none);
}

}  // namespace

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

std::optional<LimitAnswer> current_limit_answer() {
  if (!t_connection) return std::nullopt;
  return limit_answer(t_connection->stream.failure(), t_connection->limits);
}

BoundedServer::BoundedServer(const ConnectionLimits& limits) : m_limits(limits) {
  // Our stream applies the timeouts itself; httplib's copies of them only
  // go into the Keep-Alive header it sends, which should tell the truth.
  set_keep_alive_max_count(limits.keep_alive_requests);
  set_keep_alive_timeout(duration_cast<seconds>(limits.keep_alive_idle).count());
  set_read_timeout(limits.idle);
  set_write_timeout(limits.idle);
  set_pre_routing_handler([this](const auto& req, auto& res) { return check_before_routing(req, res); });
  set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (!t_connection || !ends_connection(res)) return;
    t_connection->close_after_answer = true;
    res.set_header("Connection", "close");
  });
}

void BoundedServer::add_pre_routing_check(HandlerWithResponse check) { m_checks.push_back(std::move(check)); }

std::optional<uid_t> BoundedServer::current_peer_uid() {
  if (!t_connection) return std::nullopt;
  if (!t_connection->peer_uid) t_connection->peer_uid = peer_uid(t_connection->fd);
  return *t_connection->peer_uid;
}

BoundedServer::HandlerResponse BoundedServer::check_before_routing(const httplib::Request& req,
                                                                   httplib::Response& res) const {
  auto problem = header_byte_problem(req.headers);
  if (!problem) problem = framing_problem(req.headers);
  if (problem) {
    res.status = 400;
    res.set_content(error_json("bad_request", *problem).dump() + "\n", "application/json");
    return HandlerResponse::Handled;
  }
  // The request is process_request's local object; httplib only hands it
  // over const. Two corrections before routing:
  auto& request = const_cast<httplib::Request&>(req);
  // httplib would read a POST with no length until the client closes.
  if (lacks_body_length(req.headers)) request.set_header("Content-Length", "0");
  // JSON answers are small and whole; httplib would cut them into multipart
  // ranges for a client that asks.
  request.ranges.clear();
  for (const auto& check : m_checks)
    if (check(req, res) == HandlerResponse::Handled) return HandlerResponse::Handled;
  return HandlerResponse::Unhandled;
}

bool BoundedServer::process_and_close_socket(socket_t sock) {
  Connection connection{RequestStream(sock, m_limits, [this] { return stopping(); }), m_limits, sock};
  t_connection = &connection;
  auto& stream = connection.stream;
  auto wait = m_limits.idle;  // the first request gets the full idle time to start
  for (size_t served = 0; served < m_limits.keep_alive_requests; ++served, wait = m_limits.keep_alive_idle) {
    if (stopping() || !stream.wait_for_request(wait)) break;
    stream.begin_request();
    bool last = served + 1 == m_limits.keep_alive_requests;
    bool client_closes = false;
    bool answered = process_request(stream, last, client_closes, nullptr);
    auto broken = limit_answer(stream.failure(), m_limits);
    if (broken && !stream.answered()) answer_directly(stream, *broken);
    if (!answered || broken || client_closes || connection.close_after_answer) break;
  }
  t_connection = nullptr;
  bool input_left = stream.failure() != ReadFailure::none || connection.close_after_answer;
  if (input_left) drain_and_close(sock);
  else ::close(sock);
  return true;
}

}  // namespace corral
