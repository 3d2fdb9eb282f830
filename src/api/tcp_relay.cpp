// RelayHub on Asio: one strand per relay, so its two sockets and its timer
// are only ever touched by one thread at a time.
#include "corral/api/tcp_relay.hpp"

#include "relay_hub_impl.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <array>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace corral {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Generic = asio::generic::stream_protocol;
using boost::system::error_code;
using namespace std::chrono;

namespace {

constexpr auto kConnectTimeout = seconds(5);
// After one side has ended its sending, how long the other may still send.
// A WebSocket has no use for a half-open connection, and a browser that
// never answers a client's FIN must not keep the relay (and its session's
// "not idle") alive.
constexpr auto kLingerAfterHalfClose = seconds(2);
constexpr auto kFetchTimeout = seconds(10);
constexpr size_t kMaxFetched = 8 << 20;

const tcp::endpoint loopback(uint16_t port) { return {asio::ip::address_v4::loopback(), port}; }

// The socket the HTTP server handed over, as an Asio socket of whatever
// family it is (TCP, or a unix socket when the API listens on one).
Generic::socket adopt_socket(asio::strand<asio::io_context::executor_type>& strand, int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (address.ss_family != AF_UNIX) {
    int on = 1;  // a CDP message is one small write: no Nagle delay
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  return Generic::socket(strand, Generic(address.ss_family, address.ss_family == AF_UNIX ? 0 : IPPROTO_TCP), fd);
}

}  // namespace

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(asio::io_context& io, RelayHub::Plan plan, std::function<void()> forget)
      : m_strand(asio::make_strand(io)), m_client(m_strand), m_upstream(m_strand), m_timer(m_strand),
        m_plan(std::move(plan)), m_forget(std::move(forget)) {}

  /// From any thread: start on the relay's strand, unless closed first.
  void launch() {
    asio::post(m_strand, [self = shared_from_this()] { self->start(); });
  }

  /// From any thread.
  void close() {
    asio::post(m_strand, [self = shared_from_this()] { self->close_both(); });
  }

 private:
  void start() {
    if (m_closed) return;  // the client's fd closes with the plan
    m_client = adopt_socket(m_strand, m_plan.client.release());
    m_timer.expires_after(kConnectTimeout);
    m_timer.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->m_upstream.cancel();
    });
    m_upstream.async_connect(loopback(m_plan.upstream_port),
                             [self = shared_from_this()](error_code ec) { self->connected(ec); });
  }

  void connected(error_code ec) {
    m_timer.cancel();
    if (ec) return refuse("the browser's DevTools port did not answer: " + ec.message());
    m_upstream.set_option(tcp::no_delay(true), ec);
    if (m_plan.check_upstream)
      if (auto checked = m_plan.check_upstream(); !checked) return refuse(checked.error().message);
    asio::async_write(m_upstream, asio::buffer(m_plan.to_upstream),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->close_both();
                        self->m_plan.to_upstream.clear();
                        self->pump(self->m_client, self->m_upstream, self->m_up, self->m_client_done);
                        self->pump(self->m_upstream, self->m_client, self->m_down, self->m_upstream_done);
                      });
  }

  void refuse(const std::string& why) {
    m_answer = m_plan.failure_answer ? m_plan.failure_answer(why) : "";
    asio::async_write(m_client, asio::buffer(m_answer), [self = shared_from_this()](error_code, size_t) {
      error_code ignored;
      self->m_client.shutdown(Generic::socket::shutdown_send, ignored);
      self->close_both();
    });
  }

  // Bytes from `from` to `to` until `from` ends: its EOF becomes a
  // half-close of `to`; when both directions have ended, both close.
  template <class From, class To>
  void pump(From& from, To& to, std::array<char, 65536>& buffer, bool& done) {
    from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer, &done](
                                                   error_code ec, size_t n) {
      if (ec == asio::error::eof) {
        error_code ignored;
        to.shutdown(asio::socket_base::shutdown_send, ignored);
        done = true;
        if (self->m_client_done && self->m_upstream_done) return self->close_both();
        self->m_timer.expires_after(kLingerAfterHalfClose);
        self->m_timer.async_wait([self](error_code ec) {
          if (!ec) self->close_both();
        });
        return;
      }
      if (ec) return self->close_both();
      asio::async_write(to, asio::buffer(buffer.data(), n), [self, &from, &to, &buffer, &done](error_code ec, size_t) {
        if (ec) return self->close_both();
        self->pump(from, to, buffer, done);
      });
    });
  }

  void close_both() {
    if (m_closed) return;
    m_closed = true;
    error_code ignored;
    m_timer.cancel();
    m_client.close(ignored);
    m_upstream.close(ignored);
    m_forget();
    if (m_plan.on_end) m_plan.on_end();
  }

  asio::strand<asio::io_context::executor_type> m_strand;
  Generic::socket m_client;
  tcp::socket m_upstream;
  asio::steady_timer m_timer;
  RelayHub::Plan m_plan;
  std::function<void()> m_forget;
  std::array<char, 65536> m_up{}, m_down{};  ///< client to browser; browser to client
  bool m_client_done = false, m_upstream_done = false, m_closed = false;
  std::string m_answer;
};

namespace {

// One HTTP exchange with a browser's loopback port.
class Fetch : public std::enable_shared_from_this<Fetch> {
 public:
  using Done = std::function<void(Result<RelayHub::Fetched>)>;
  Fetch(asio::io_context& io, std::function<Result<void>()> check, std::string request, Done done,
        milliseconds timeout = kFetchTimeout, size_t max_answer = kMaxFetched)
      : m_stream(asio::make_strand(io)), m_check(std::move(check)), m_request(std::move(request)),
        m_done(std::move(done)), m_timeout(timeout) {
    m_parser.body_limit(max_answer);
  }

  void start(uint16_t port) {
    m_stream.expires_after(m_timeout);
    m_stream.async_connect(loopback(port), [self = shared_from_this()](error_code ec) { self->connected(ec); });
  }

 private:
  void connected(error_code ec) {
    if (ec) return fail(ec);
    if (m_check)
      if (auto checked = m_check(); !checked) return m_done(checked.error());
    asio::async_write(m_stream, asio::buffer(m_request), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->fail(ec);
      http::async_read(self->m_stream, self->m_buffer, self->m_parser,
                       [self](error_code ec, size_t) { self->answered(ec); });
    });
  }

  void answered(error_code ec) {
    if (ec) return fail(ec);
    auto& response = m_parser.get();
    m_done(RelayHub::Fetched{static_cast<int>(response.result_int()),
                             std::string(response[http::field::content_type]), std::move(response.body())});
  }

  void fail(error_code ec) { m_done(exchange_error(ec, m_timeout)); }

  beast::tcp_stream m_stream;
  beast::flat_buffer m_buffer;
  http::response_parser<http::string_body> m_parser;
  std::function<Result<void>()> m_check;
  std::string m_request;
  Done m_done;
  milliseconds m_timeout;
};

}  // namespace

Error exchange_error(error_code ec, milliseconds timeout) {
  if (ec == beast::error::timeout)
    return Error::make(ETIMEDOUT, "no answer within " + std::to_string(timeout.count() / 1000) + " s");
  if (ec == asio::error::connection_refused) return Error::make(ECONNREFUSED, "the port is closed");
  return Error::make(EBADMSG, "the answer could not be read: " + ec.message());
}

RelayHub::RelayHub(size_t threads) : m_impl(std::make_unique<Impl>()) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) m_impl->threads.emplace_back([this] { m_impl->io.run(); });
}

RelayHub::~RelayHub() {
  {
    std::lock_guard lock(m_impl->mutex);
    for (auto& [id, relay] : m_impl->relays)
      if (auto alive = relay.second.lock()) alive->close();
  }
  m_impl->work.reset();
  m_impl->io.stop();
  for (auto& thread : m_impl->threads) thread.join();
}

void RelayHub::start(Plan plan) {
  std::lock_guard lock(m_impl->mutex);
  auto id = m_impl->next_id++;
  auto group = plan.group;
  auto forget = [impl = m_impl.get(), id] {
    std::lock_guard lock(impl->mutex);
    impl->relays.erase(id);
  };
  auto relay = std::make_shared<Relay>(m_impl->io, std::move(plan), std::move(forget));
  m_impl->relays.emplace(id, std::make_pair(group, relay));
  relay->launch();
}

void RelayHub::reply_and_close(UniqueFd client, std::string answer) {
  auto strand = asio::make_strand(m_impl->io);
  auto socket = std::make_shared<Generic::socket>(adopt_socket(strand, client.release()));
  auto bytes = std::make_shared<std::string>(std::move(answer));
  asio::async_write(*socket, asio::buffer(*bytes), [socket, bytes](error_code, size_t) {
    error_code ignored;
    socket->shutdown(Generic::socket::shutdown_send, ignored);
    socket->close(ignored);
  });
}

void RelayHub::close_group(const std::string& group) {
  m_impl->drop_kept(group);
  std::lock_guard lock(m_impl->mutex);
  for (auto& [id, relay] : m_impl->relays)
    if (relay.first == group)
      if (auto alive = relay.second.lock()) alive->close();
}

size_t RelayHub::active() const {
  std::lock_guard lock(m_impl->mutex);
  return m_impl->relays.size();
}

void RelayHub::fetch(uint16_t port, std::function<Result<void>()> check_upstream, std::string request,
                     std::function<void(Result<Fetched>)> done) {
  std::make_shared<Fetch>(m_impl->io, std::move(check_upstream), std::move(request), std::move(done))->start(port);
}

void RelayHub::forward(uint16_t port, std::function<Result<void>()> check_upstream, std::string request,
                       std::chrono::milliseconds timeout, size_t max_answer, std::function<void(Result<Fetched>)> done) {
  std::make_shared<Fetch>(m_impl->io, std::move(check_upstream), std::move(request), std::move(done), timeout,
                          max_answer)
      ->start(port);
}

}  // namespace corral
