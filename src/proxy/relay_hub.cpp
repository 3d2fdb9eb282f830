// RelayHub on Asio: a few threads, each running an io_context of its own
// (relay.hpp: why), and the one-request exchanges with a browser.
#include "corral/proxy/relay_hub.hpp"

#include "relay_hub_impl.hpp"
#include "relay.hpp"

#include <netinet/in.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
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

constexpr auto kFetchTimeout = seconds(10);
constexpr size_t kMaxFetched = 8 << 20;

// One HTTP exchange with a browser's loopback port.
class Fetch : public std::enable_shared_from_this<Fetch> {
 public:
  using Done = std::function<void(Result<RelayHub::Fetched>)>;
  Fetch(asio::io_context& io, std::function<Result<void>()> check, std::string request, Done done,
        milliseconds timeout = kFetchTimeout, size_t max_answer = kMaxFetched)
      : m_stream(io), m_check(std::move(check)), m_request(std::move(request)),
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
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) {
    auto& loop = *m_impl->loops.emplace_back(std::make_unique<Impl::Loop>());
    loop.thread = std::thread([&loop] { loop.io.run(); });
  }
}

RelayHub::~RelayHub() {
  {
    std::lock_guard lock(m_impl->mutex);
    for (auto& [id, relay] : m_impl->relays)
      if (auto alive = relay.second.lock()) alive->close();
  }
  for (auto& loop : m_impl->loops) {
    loop->work.reset();
    loop->io.stop();
  }
  for (auto& loop : m_impl->loops) loop->thread.join();
}

void RelayHub::start(Plan plan) {
  std::lock_guard lock(m_impl->mutex);
  auto id = m_impl->next_id++;
  auto group = plan.group;
  auto forget = [impl = m_impl.get(), id] {
    std::lock_guard lock(impl->mutex);
    impl->relays.erase(id);
  };
  auto relay = std::make_shared<Relay>(m_impl->next_io(), std::move(plan), std::move(forget));
  m_impl->relays.emplace(id, std::make_pair(group, relay));
  relay->launch();
}

void RelayHub::reply_and_close(UniqueFd client, std::string answer, std::shared_ptr<void> held) {
  auto socket = std::make_shared<Generic::socket>(adopt_socket(m_impl->next_io(), client.release()));
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
  std::make_shared<Fetch>(m_impl->next_io(), std::move(check_upstream), std::move(request), std::move(done))
      ->start(network, port);
}

void RelayHub::forward(const SessionNetwork& network, uint16_t port, std::function<Result<void>()> check_upstream,
                       std::string request, std::chrono::milliseconds timeout, size_t max_answer,
                       std::function<void(Result<Fetched>)> done) {
  std::make_shared<Fetch>(m_impl->next_io(), std::move(check_upstream), std::move(request), std::move(done), timeout,
                          max_answer)
      ->start(network, port);
}

}  // namespace corral
