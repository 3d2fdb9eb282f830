// Private to http_connection.cpp, which describes a connection's life: the
// state one connection keeps. Includes Beast's parser; nothing else may.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>

#include "corral/net/socket_owner.hpp"
#include "http_connection.hpp"

namespace corral::http_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerShared> shared, Socket socket)
      : m_shared(std::move(shared)), m_limits(m_shared->options.limits), m_socket(std::move(socket)),
        m_timer(m_socket.get_executor()), m_meter(m_limits), m_peer(std::make_shared<ConnectionPeer>(m_socket.native_handle())) {}

  void start() { wait_for_request(); }
  Socket::executor_type executor() { return m_socket.get_executor(); }
  void refuse_busy();
  void stop_gently();
  void finish();

 private:
  enum class Phase { between, reading, handling, writing, draining, done };

  void wait_for_request();
  void begin_request();
  void read_more();
  void on_read(beast::error_code ec, size_t n);
  void on_eof();
  void parse();
  bool parse_head();
  bool parse_body();
  void on_head();
  void refuse_before_body(HttpResponse refusal);
  bool read_request(HttpResponse& refusal);
  void send_continue();
  void on_complete();
  void run_head_route(const HeadHandler& handler);
  void take_over(const Takeover& takeover);
  void run_plain(const PlainHandler& handler, RunOn run_on);
  Reply make_reply();

  void arm(Clock::time_point deadline, ReadFailure cause);
  void disarm();
  void answer(HttpResponse response);
  void answer_limit(ReadFailure failure);
  bool ends_connection(const HttpResponse& response) const;
  void on_written(beast::error_code ec);
  void drain();
  void drain_some();

  std::shared_ptr<ServerShared> m_shared;
  const ConnectionLimits& m_limits;
  Socket m_socket;
  asio::steady_timer m_timer;
  Phase m_phase = Phase::between;
  size_t m_served = 0;
  const Clock::time_point m_opened = Clock::now();  ///< for keep_alive_lifetime
  bool m_stop_requested = false;

  // The timer: when it fires, pending socket work is cancelled, and the
  // read that ends says why (m_cause, or nothing for a silent close).
  uint64_t m_timer_generation = 0;
  bool m_timed_out = false;
  ReadFailure m_cause = ReadFailure::none;

  // The current request.
  beast::flat_buffer m_buffer;
  size_t m_metered = 0;  ///< bytes at the front of m_buffer the meter has seen
  RequestMeter m_meter;
  std::optional<http::request_parser<http::string_body>> m_parser;
  Clock::time_point m_request_deadline{};
  HttpRequest m_request;
  const Router::Route* m_route = nullptr;
  bool m_keep_alive = true, m_head_only = false, m_body_unread = false, m_input_broken = false;
  std::shared_ptr<ConnectionPeer> m_peer;
  /// The peer's address, asked of the kernel once per connection, not per request.
  std::optional<std::string> m_peer_address;

  std::string m_out;
  bool m_close_after_write = false;
  size_t m_drained = 0;
  std::array<char, 4096> m_sink{};
};

}  // namespace corral::http_detail
