// RelayHub on Asio: one strand per relay, so its two sockets and its timer
// are only ever touched by one thread at a time.
#include "corral/proxy/relay_hub.hpp"

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
#include <spdlog/spdlog.h>
#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "corral/net/session_connector.hpp"

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
// A relay reads what has arrived into a buffer made for it, at least
// kMinChunk and at most kMaxChunk bytes, and frees it once written: an idle
// relay holds no buffer (2,000 idle relays with two 64 KiB buffers each
// held 281 MiB).
constexpr size_t kMinChunk = 1024;
constexpr size_t kMaxChunk = 64 * 1024;

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

// One direction of a relay: the bytes on their way (none while it waits),
// and whether its sender has ended.
struct Direction {
  std::unique_ptr<char[]> chunk;
  bool done = false;
};

}  // namespace

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(asio::io_context& io, RelayHub::Plan plan, std::function<void()> forget)
      : m_strand(asio::make_strand(io)), m_client(m_strand), m_upstream(m_strand), m_timer(m_strand),
        m_idle(m_strand), m_plan(std::move(plan)), m_forget(std::move(forget)) {}

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
    error_code ignored;
    m_client.non_blocking(true, ignored);  // carry() reads what is there, never waits in a read
    auto upstream = open_to_session(m_upstream, m_plan.upstream_network, m_plan.upstream_port);
    if (!upstream) return refuse(upstream.error().message);
    m_timer.expires_after(kConnectTimeout);
    m_timer.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->m_upstream.cancel();
    });
    m_upstream.async_connect(*upstream, [self = shared_from_this()](error_code ec) { self->connected(ec); });
  }

  void connected(error_code ec) {
    m_timer.cancel();
    if (ec) return refuse("the browser's DevTools port did not answer: " + ec.message());
    m_upstream.set_option(tcp::no_delay(true), ec);
    m_upstream.non_blocking(true, ec);
    if (m_plan.check_upstream)
      if (auto checked = m_plan.check_upstream(); !checked) return refuse(checked.error().message);
    asio::async_write(m_upstream, asio::buffer(m_plan.to_upstream),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->close_both();
                        std::string().swap(self->m_plan.to_upstream);
                        self->m_last_bytes = steady_clock::now();
                        self->watch_idle();
                        self->pump(self->m_client, self->m_upstream, self->m_up);
                        self->pump(self->m_upstream, self->m_client, self->m_down);
                      });
  }

  // Close the relay once neither side has sent a byte for idle_timeout
  // (a client that upgraded and then went silent must not hold its places
  // for ever). The timer wakes at the earliest moment that can be true.
  void watch_idle() {
    if (m_plan.idle_timeout.count() <= 0 || m_closed) return;
    m_idle.expires_at(m_last_bytes + m_plan.idle_timeout);
    m_idle.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->m_closed) return;
      if (steady_clock::now() < self->m_last_bytes + self->m_plan.idle_timeout) return self->watch_idle();
      spdlog::info("session {}: a relayed WebSocket closed, idle for {} s (--relay-idle-timeout)", self->m_plan.group,
                   duration_cast<seconds>(self->m_plan.idle_timeout).count());
      self->close_both();
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

  // Bytes from `from` to `to` until `from` ends: wait, holding no buffer,
  // until `from` has something to read; then carry it.
  template <class From, class To>
  void pump(From& from, To& to, Direction& direction) {
    from.async_wait(asio::socket_base::wait_read, [self = shared_from_this(), &from, &to, &direction](error_code ec) {
      if (ec) return self->close_both();
      self->carry(from, to, direction);
    });
  }

  // Read what has arrived, in a buffer of its size, write it all, free it.
  // EOF becomes a half-close of `to`; when both directions have ended, both
  // close.
  template <class From, class To>
  void carry(From& from, To& to, Direction& direction) {
    error_code ec;
    size_t size = std::clamp(from.available(ec), kMinChunk, kMaxChunk);
    direction.chunk.reset(new char[size]);
    size_t n = from.read_some(asio::buffer(direction.chunk.get(), size), ec);
    if (ec) direction.chunk.reset();
    if (ec == asio::error::would_block || ec == asio::error::try_again) return pump(from, to, direction);
    if (ec == asio::error::eof) return ended(to, direction);
    if (ec) return close_both();
    m_last_bytes = steady_clock::now();
    asio::async_write(to, asio::buffer(direction.chunk.get(), n),
                      [self = shared_from_this(), &from, &to, &direction](error_code ec, size_t) {
                        direction.chunk.reset();
                        if (ec) return self->close_both();
                        self->pump(from, to, direction);
                      });
  }

  template <class To>
  void ended(To& to, Direction& direction) {
    error_code ignored;
    to.shutdown(asio::socket_base::shutdown_send, ignored);
    direction.done = true;
    if (m_up.done && m_down.done) return close_both();
    m_timer.expires_after(kLingerAfterHalfClose);
    m_timer.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close_both();
    });
  }

  void close_both() {
    if (m_closed) return;
    m_closed = true;
    error_code ignored;
    m_timer.cancel();
    m_idle.cancel();
    m_client.close(ignored);
    m_upstream.close(ignored);
    m_plan.held.clear();  // its places in --max-connections and the relay budget
    m_forget();
    if (m_plan.on_end) m_plan.on_end();
  }

  asio::strand<asio::io_context::executor_type> m_strand;
  Generic::socket m_client;
  tcp::socket m_upstream;
  asio::steady_timer m_timer;  ///< the connect's deadline, then the linger after a half-close
  asio::steady_timer m_idle;   ///< --relay-idle-timeout
  steady_clock::time_point m_last_bytes;
  RelayHub::Plan m_plan;
  std::function<void()> m_forget;
  Direction m_up, m_down;  ///< client to browser; browser to client
  bool m_closed = false;
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

  void start(const SessionNetwork& network, uint16_t port) {
    auto upstream = open_to_session(m_stream.socket(), network, port);
    if (!upstream)  // answered on the hub's threads, as every other outcome is
      return asio::post(m_stream.get_executor(), [self = shared_from_this(), error = upstream.error()] {
        self->m_done(error);
      });
    m_stream.expires_after(m_timeout);
    m_stream.async_connect(*upstream, [self = shared_from_this()](error_code ec) { self->connected(ec); });
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

Result<tcp::endpoint> open_to_session(tcp::socket& socket, const SessionNetwork& network, uint16_t port) {
  CORRAL_TRY_ASSIGN(auto fd, session_socket(network));
  error_code ec;
  socket.assign(tcp::v4(), fd.get(), ec);
  if (ec) return Error::make(EIO, "a socket to the session's loopback: " + ec.message());
  fd.release();
  auto address = session_loopback(port);
  return tcp::endpoint(asio::ip::address_v4(ntohl(address.sin_addr.s_addr)), ntohs(address.sin_port));
}

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

void RelayHub::reply_and_close(UniqueFd client, std::string answer, std::shared_ptr<void> held) {
  auto strand = asio::make_strand(m_impl->io);
  auto socket = std::make_shared<Generic::socket>(adopt_socket(strand, client.release()));
  auto bytes = std::make_shared<std::string>(std::move(answer));
  asio::async_write(*socket, asio::buffer(*bytes), [socket, bytes, held = std::move(held)](error_code, size_t) {
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

void RelayHub::fetch(const SessionNetwork& network, uint16_t port, std::function<Result<void>()> check_upstream,
                     std::string request, std::function<void(Result<Fetched>)> done) {
  std::make_shared<Fetch>(m_impl->io, std::move(check_upstream), std::move(request), std::move(done))
      ->start(network, port);
}

void RelayHub::forward(const SessionNetwork& network, uint16_t port, std::function<Result<void>()> check_upstream,
                       std::string request, std::chrono::milliseconds timeout, size_t max_answer,
                       std::function<void(Result<Fetched>)> done) {
  std::make_shared<Fetch>(m_impl->io, std::move(check_upstream), std::move(request), std::move(done), timeout,
                          max_answer)
      ->start(network, port);
}

}  // namespace corral
