// RelayHub::exchange: one HTTP exchange with a session's loopback port over
// a connection kept alive between a session's commands. A WebDriver bot
// sends command after command; a new loopback connection and a new port
// check for each cost more than the command itself takes chromedriver.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "relay_hub_impl.hpp"

namespace corral {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using namespace std::chrono;

namespace {

constexpr size_t kKeptPerKey = 4;

class KeptExchange : public std::enable_shared_from_this<KeptExchange> {
 public:
  using Done = std::function<void(Result<RelayHub::Fetched>)>;
  KeptExchange(RelayHub::Impl& hub, std::string key, SessionNetwork network, uint16_t port,
               std::function<Result<void>()> check, std::string request, milliseconds timeout, size_t max_answer,
               Done done)
      : m_hub(hub), m_key(std::move(key)), m_network(std::move(network)), m_port(port), m_check(std::move(check)), m_request(std::move(request)),
        m_timeout(timeout), m_max_answer(max_answer), m_done(std::move(done)) {}

  void start() {
    m_connection = m_hub.take_kept(m_key);
    m_reused = m_connection != nullptr;
    if (!m_reused) return connect();
    // The request leaves from the thread that has it, so that it reaches
    // chromedriver without first waiting for a hub thread to wake: the hub
    // thread wakes meanwhile, while chromedriver works, to read the answer.
    // Only the socket's fd is touched here: a kept connection has no hub
    // work pending that could use or close it (its exchange's read ended,
    // which makes Beast's timeout handler for it stale), and close_group
    // sees only connections that are not taken.
    size_t sent = send_now();
    asio::post(m_connection->stream.get_executor(), [self = shared_from_this(), sent] { self->send_rest(sent); });
  }

 private:
  void connect() {
    m_reused = false;
    m_connection = std::make_shared<KeptConnection>(m_hub.next_io());
    auto upstream = open_to_session(m_connection->stream.socket(), m_network, m_port);
    if (!upstream)  // answered on the hub's threads, as every other outcome is
      return asio::post(m_connection->stream.get_executor(),
                        [self = shared_from_this(), error = upstream.error()] { self->m_done(error); });
    m_connection->stream.expires_after(m_timeout);
    m_connection->stream.async_connect(*upstream, [self = shared_from_this()](error_code ec) {
      if (ec) return self->fail(ec);
      if (self->m_check)
        if (auto checked = self->m_check(); !checked) return self->m_done(checked.error());
      self->send_rest(0);
    });
  }

  // As much of the request as the socket takes now, without waiting; a
  // failure is kept for the hub thread (send_rest) to act on.
  size_t send_now() {
    ssize_t sent = ::send(m_connection->stream.socket().native_handle(), m_request.data(), m_request.size(),
                          MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) return static_cast<size_t>(sent);
    if (errno != EAGAIN && errno != EWOULDBLOCK) m_send_failure = error_code(errno, boost::system::system_category());
    return 0;
  }

  // On the hub thread: the request past the `sent` bytes that left
  // already, then the answer, all within the timeout.
  void send_rest(size_t sent) {
    if (m_send_failure) return retry_or_fail(std::exchange(m_send_failure, {}), 0);
    m_parser.emplace();
    m_parser->body_limit(m_max_answer);
    m_connection->stream.expires_after(m_timeout);
    if (sent == m_request.size()) return read();
    asio::async_write(m_connection->stream, asio::buffer(m_request) + sent,
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->retry_or_fail(ec, 0);
                        self->read();
                      });
  }

  void read() {
    http::async_read(m_connection->stream, m_connection->buffer, *m_parser,
                     [self = shared_from_this()](error_code ec, size_t read) {
                       if (ec) return self->retry_or_fail(ec, read);
                       self->answered();
                     });
  }

  // A kept connection the other side closed while idle fails at once and
  // gives back nothing: the request never reached it. Then, once, a new one.
  void retry_or_fail(error_code ec, size_t read) {
    if (m_reused && read == 0 && ec != beast::error::timeout) return connect();
    fail(ec);
  }

  void answered() {
    auto response = m_parser->release();
    if (response.keep_alive()) {
      m_connection->stream.expires_never();
      m_hub.keep(m_key, m_connection);
    }
    m_done(RelayHub::Fetched{static_cast<int>(response.result_int()), std::string(response[http::field::content_type]),
                             std::move(response.body())});
  }

  void fail(error_code ec) { m_done(exchange_error(ec, m_timeout)); }

  RelayHub::Impl& m_hub;
  std::string m_key;
  SessionNetwork m_network;
  uint16_t m_port;
  std::function<Result<void>()> m_check;
  std::string m_request;
  milliseconds m_timeout;
  size_t m_max_answer;
  Done m_done;
  KeptPtr m_connection;
  bool m_reused = false;
  error_code m_send_failure;  ///< of send_now, for the hub thread
  std::optional<http::response_parser<http::string_body>> m_parser;
};

}  // namespace

asio::io_context& RelayHub::Impl::next_io() {
  return loops[next_loop.fetch_add(1, std::memory_order_relaxed) % loops.size()]->io;
}

KeptPtr RelayHub::Impl::take_kept(const std::string& key) {
  std::lock_guard lock(mutex);
  auto found = kept.find(key);
  if (found == kept.end() || found->second.empty()) return nullptr;
  auto connection = std::move(found->second.back());
  found->second.pop_back();
  return connection;
}

void RelayHub::Impl::keep(const std::string& key, KeptPtr connection) {
  std::lock_guard lock(mutex);
  auto& idle = kept[key];
  if (idle.size() < kKeptPerKey) idle.push_back(std::move(connection));
}

void RelayHub::Impl::drop_kept(const std::string& group) {
  std::vector<KeptPtr> dropped;
  {
    std::lock_guard lock(mutex);
    for (auto it = kept.begin(); it != kept.end();) {
      if (it->first.rfind(group + ":", 0) != 0) {
        ++it;
        continue;
      }
      for (auto& connection : it->second) dropped.push_back(std::move(connection));
      it = kept.erase(it);
    }
  }
  for (auto& connection : dropped)
    asio::post(connection->stream.get_executor(), [connection] { connection->stream.close(); });
}

void RelayHub::exchange(const std::string& group, const SessionNetwork& network, uint16_t port,
                        std::function<Result<void>()> check_upstream, std::string request, milliseconds timeout,
                        size_t max_answer, std::function<void(Result<Fetched>)> done) {
  // A group is one session, so one network: the key needs only the port.
  std::make_shared<KeptExchange>(*m_impl, group + ":" + std::to_string(port), network, port, std::move(check_upstream),
                                 std::move(request), timeout, max_answer, std::move(done))
      ->start();
}

}  // namespace corral
