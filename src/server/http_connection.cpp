// One API connection, asynchronous on its own strand. Its life:
//   between   waiting for a request's first byte (idle, or keep_alive_idle
//             after an answer); nothing came: closed without a word
//   reading   the head, metered line by line (RequestMeter, so that a long
//             request line is a 414 and a long header line a 431), parsed
//             by Beast's request_parser; then the checks before routing;
//             then the body, metered as sent
//   handling  a handler works; the connection holds no thread meanwhile
//   writing   the answer, within response_time
//   draining  after an answer that ends the connection: FIN, then read and
//             drop what the client still sends (bounded), then close; a
//             close with unread input would send a reset that can destroy
//             the answer before the client reads it
// A head route may take the connection over; the server then stops serving
// it, but counts it against --max-connections until the taker lets it go.
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "connection.hpp"
#include "corral/server/websocket_upgrade.hpp"
#include "request_head.hpp"

namespace corral::http_detail {

void Connection::wait_for_request() {
  m_phase = Phase::between;
  if (m_shared->stopping) return drain();
  if (m_buffer.size() > 0) {  // a pipelined request is here already
    begin_request();
    return parse();
  }
  read_more();
}

void Connection::begin_request() {
  m_phase = Phase::reading;
  m_request_deadline = Clock::now() + m_limits.request_time;
  m_meter = RequestMeter(m_limits);
  m_metered = 0;
  m_parser.emplace();
  m_parser->header_limit(static_cast<uint32_t>(m_limits.max_head));
  m_parser->body_limit(boost::none);  // metered as sent instead; a Content-Length is checked at the head
  m_request = HttpRequest();
  m_route = nullptr;
  m_keep_alive = true;
  m_head_only = m_body_unread = m_input_broken = false;
}

void Connection::read_more() {
  // A head or chunk framing without end would grow the buffer; the meter
  // bounds heads, this bounds the rest.
  if (m_buffer.size() > m_limits.max_head + m_meter.max_body()) return answer_limit(ReadFailure::body_too_large);
  if (m_phase == Phase::between)
    arm(Clock::now() + (m_served == 0 ? m_limits.idle : m_limits.keep_alive_idle), ReadFailure::none);
  else if (Clock::now() + m_limits.idle < m_request_deadline)
    arm(Clock::now() + m_limits.idle, ReadFailure::idle);
  else
    arm(m_request_deadline, ReadFailure::too_slow);
  m_socket.async_read_some(m_buffer.prepare(4096),
                           [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(beast::error_code ec, size_t n) {
  if (m_phase != Phase::between && m_phase != Phase::reading) return;
  if (ec == asio::error::operation_aborted) {
    if (m_phase == Phase::reading && m_stop_requested) return answer_limit(ReadFailure::shutting_down);
    if (m_phase == Phase::reading && m_timed_out && m_cause != ReadFailure::none) return answer_limit(m_cause);
    return finish();
  }
  m_buffer.commit(n);
  if (ec == asio::error::eof) return on_eof();
  if (ec) return finish();
  disarm();
  if (m_phase == Phase::between) begin_request();
  parse();
}

// The client half-closed. Between requests that is goodbye; within one,
// the request is cut short.
void Connection::on_eof() {
  if (m_phase == Phase::between && m_buffer.size() == 0) return finish();
  if (m_phase == Phase::between) begin_request();
  m_input_broken = true;
  answer(error_response(400, "bad_request", "the request ended before it was complete"));
}

void Connection::parse() {
  while (m_phase == Phase::reading && (m_parser->is_header_done() ? parse_body() : parse_head())) {
  }
}

// One step of the head; true to go on parsing.
bool Connection::parse_head() {
  auto data = m_buffer.data();
  std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  if (m_metered < bytes.size()) {
    auto failure = m_meter.count_head(bytes.substr(m_metered));
    m_metered = bytes.size();
    if (failure != ReadFailure::none) return answer_limit(failure), false;
  }
  if (bytes.empty()) return read_more(), false;
  beast::error_code ec;
  size_t used = m_parser->put(data, ec);
  m_buffer.consume(used);
  m_metered -= used;
  if (ec == http::error::need_more) return read_more(), false;
  if (ec == http::error::header_limit) return answer_limit(ReadFailure::head_too_large), false;
  if (ec) return m_input_broken = true, answer(error_response(400, "bad_request", "malformed request: " + ec.message())), false;
  if (m_parser->is_header_done()) on_head();
  return true;
}

// One step of the body; true to go on parsing.
bool Connection::parse_body() {
  if (m_parser->is_done()) return on_complete(), false;
  auto data = m_buffer.data();
  if (data.size() == 0) return read_more(), false;
  beast::error_code ec;
  size_t used = m_parser->put(data, ec);
  m_buffer.consume(used);
  if (m_meter.count_body(used) != ReadFailure::none) return answer_limit(ReadFailure::body_too_large), false;
  if (ec == http::error::need_more) return read_more(), false;
  if (ec) return m_input_broken = true, answer(error_response(400, "bad_request", "malformed body: " + ec.message())), false;
  return true;
}

void Connection::on_head() {
  const auto& head = m_parser->get();
  m_keep_alive = head.keep_alive();
  m_head_only = head.method() == http::verb::head;
  HttpResponse refusal;
  if (!read_request(refusal)) return refuse_before_body(std::move(refusal));
  auto match = m_shared->router.find(m_request.method, m_request.path);
  if (refused_by_checks(m_request, m_shared->router.rules_for(match, m_request.path), m_shared->checks, refusal))
    return refuse_before_body(std::move(refusal));
  if (match) {
    m_route = match->route;
    m_request.matches = std::move(match->groups);
    if (m_route->max_body > m_limits.max_body) m_meter.allow_body(m_route->max_body);
    if (auto* head_handler = std::get_if<HeadHandler>(&m_route->handler)) return run_head_route(*head_handler);
    if (is_websocket_upgrade(m_request))
      return refuse_before_body(error_response(400, "bad_request", "this endpoint does not take a WebSocket upgrade"));
  }
  if (auto length = m_parser->content_length(); length && *length > m_meter.max_body())
    return answer_limit(ReadFailure::body_too_large);
  if (!m_parser->is_done() && beast::iequals(m_request.get_header_value("Expect"), "100-continue")) send_continue();
}

void Connection::refuse_before_body(HttpResponse refusal) {
  m_body_unread = m_request.has_body();
  answer(std::move(refusal));
}

// The client waits for word before it sends the body (curl does, for bodies
// over 1 KiB): it may.
void Connection::send_continue() {
  static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  m_phase = Phase::writing;
  asio::async_write(m_socket, asio::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, size_t) {
    if (self->m_phase != Phase::writing) return;
    if (ec) return self->finish();
    self->m_phase = Phase::reading;
    self->parse();
  });
}

// The head as corral's plain HttpRequest; false with a 400 in `refusal`.
bool Connection::read_request(HttpResponse& refusal) {
  const auto& head = m_parser->get();
  m_request.method = std::string(head.method_string());
  m_request.target = std::string(head.target());
  m_request.version = head.version();
  for (const auto& field : head) m_request.headers.emplace(std::string(field.name_string()), std::string(field.value()));
  if (!m_peer_address) m_peer_address = peer_address(m_socket.native_handle());
  m_request.remote_addr = *m_peer_address;
  m_request.unix_listener = m_shared->unix_listener;
  m_request.peer_uid = [peer = m_peer] { return peer->uid(); };
  return accept_head(m_request, head.version(), head.method() != http::verb::unknown, refusal);
}

void Connection::run_head_route(const HeadHandler& handler) {
  std::variant<HttpResponse, Takeover> decision;
  try {
    decision = handler(m_request);
  } catch (const std::exception& e) {
    spdlog::error("request handler failed: {}", e.what());
    decision = error_response(500, "internal", e.what());
  }
  if (auto* takeover = std::get_if<Takeover>(&decision)) return take_over(*takeover);
  m_body_unread = m_request.has_body();
  answer(std::move(std::get<HttpResponse>(decision)));
}

void Connection::take_over(const Takeover& takeover) {
  disarm();
  m_phase = Phase::done;
  auto data = m_buffer.data();
  TakenConnection taken{UniqueFd(m_socket.release()),
                        std::string(static_cast<const char*>(data.data()), data.size()), std::move(m_request), {}};
  m_peer->forget();
  {
    std::lock_guard lock(m_shared->mutex);
    m_shared->live.erase(this);
    ++m_shared->taken;
  }
  // A relay costs an fd as long as it lives: it keeps its place in the count.
  taken.counted = std::shared_ptr<void>(nullptr, [shared = m_shared](void*) {
    std::lock_guard lock(shared->mutex);
    --shared->taken;
  });
  m_shared->connection_left.notify_all();
  takeover.take(std::move(taken));
}

void Connection::on_complete() {
  m_phase = Phase::handling;
  disarm();
  m_request.body = m_parser->release().body();
  if (!m_route) return answer(error_response(404, "not_found", "no such endpoint"));
  if (auto* plain = std::get_if<PlainHandler>(&m_route->handler)) return run_plain(*plain, m_route->run_on);
  auto& handler = std::get<AsyncHandler>(m_route->handler);
  try {
    handler(m_request, make_reply());
  } catch (const std::exception& e) {
    spdlog::error("request handler failed: {}", e.what());
    answer(error_response(500, "internal", e.what()));
  }
}

void Connection::run_plain(const PlainHandler& handler, RunOn run_on) {
  if (run_on == RunOn::io_thread) return answer(call_plain(handler, m_request));
  // m_request stays untouched until the reply: the connection waits for it.
  m_shared->workers.post([&handler, request = &m_request, reply = make_reply()] { reply(call_plain(handler, *request)); });
}

Reply Connection::make_reply() {
  return [self = shared_from_this()](HttpResponse response) {
    asio::post(self->m_socket.get_executor(), [self, response = std::move(response)]() mutable {
      if (self->m_phase == Phase::handling) self->answer(std::move(response));
    });
  };
}

void Connection::arm(Clock::time_point deadline, ReadFailure cause) {
  m_timed_out = false;
  m_cause = cause;
  m_timer.expires_at(deadline);
  m_timer.async_wait([self = shared_from_this(), generation = ++m_timer_generation](beast::error_code ec) {
    if (ec || generation != self->m_timer_generation) return;
    self->m_timed_out = true;
    beast::error_code ignored;
    self->m_socket.cancel(ignored);
  });
}

void Connection::disarm() {
  ++m_timer_generation;
  m_timer.cancel();
}

bool Connection::ends_connection(const HttpResponse& response) const {
  // After a 400 or 413 where the next request would start is unknown.
  return m_input_broken || m_body_unread || m_stop_requested || m_shared->stopping || !m_keep_alive ||
         response.status == 400 || response.status == 413 || response.get_header_value("Connection") == "close" ||
         Clock::now() - m_opened >= m_limits.keep_alive_lifetime;
}

void Connection::answer(HttpResponse response) {
  m_close_after_write = ends_connection(response);
  set_connection_headers(response, m_close_after_write, m_limits);
  m_phase = Phase::writing;
  m_out = serialize(response, m_head_only);
  arm(Clock::now() + m_limits.response_time, ReadFailure::none);
  asio::async_write(m_socket, asio::buffer(m_out),
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->on_written(ec); });
}

void Connection::answer_limit(ReadFailure failure) {
  m_input_broken = true;
  auto limits = m_limits;
  limits.max_body = m_meter.max_body();
  auto broken = limit_answer(failure, limits);
  answer(error_response(broken->status, broken->code, broken->message));
}

void Connection::on_written(beast::error_code ec) {
  disarm();
  if (ec) return finish();
  ++m_served;
  if (m_close_after_write) return drain();
  wait_for_request();
}

void Connection::drain() {
  m_phase = Phase::draining;
  beast::error_code ignored;
  m_socket.shutdown(Socket::shutdown_send, ignored);
  m_drained = 0;
  arm(Clock::now() + 1s, ReadFailure::none);
  drain_some();
}

void Connection::drain_some() {
  m_socket.async_read_some(asio::buffer(m_sink), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->m_drained += n;
    if (ec || self->m_drained > 256 * 1024) return self->finish();
    self->drain_some();
  });
}

void Connection::finish() {
  if (m_phase == Phase::done) return;
  m_phase = Phase::done;
  disarm();
  m_peer->forget();
  beast::error_code ignored;
  m_socket.close(ignored);
  {
    std::lock_guard lock(m_shared->mutex);
    m_shared->live.erase(this);
  }
  m_shared->connection_left.notify_all();
}

void Connection::stop_gently() {
  m_stop_requested = true;
  beast::error_code ignored;
  if (m_phase == Phase::between || m_phase == Phase::reading) m_socket.cancel(ignored);
}

void Connection::refuse_busy() {
  m_phase = Phase::handling;
  m_input_broken = true;
  answer(error_response(503, "unavailable",
               "corrald serves at most " + std::to_string(m_shared->options.max_connections) +
                   " connections at once, relayed WebSockets included (--max-connections); try again shortly"));
}

void serve(const std::shared_ptr<ServerShared>& shared, Socket socket) {
  auto connection = std::make_shared<Connection>(shared, std::move(socket));
  {
    std::lock_guard lock(shared->mutex);
    shared->live.emplace(connection.get(), connection);
  }
  connection->start();
}

void refuse(const std::shared_ptr<ServerShared>& shared, Socket socket) {
  std::make_shared<Connection>(shared, std::move(socket))->refuse_busy();
}

void stop_gently(const std::shared_ptr<Connection>& connection) {
  asio::post(connection->executor(), [connection] { connection->stop_gently(); });
}

void close_now(const std::shared_ptr<Connection>& connection) {
  asio::post(connection->executor(), [connection] { connection->finish(); });
}

}  // namespace corral::http_detail
