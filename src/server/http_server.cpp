// The server around the connections: I/O threads, the listener and its
// accept loop, the connection count, timers, and the order of a stop.
#include "corral/server/http_server.hpp"

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <thread>

#include "http_connection.hpp"

namespace corral {

namespace asio = boost::asio;
using namespace http_detail;
using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

namespace {

class AsioTimer : public CancelableTimer, public std::enable_shared_from_this<AsioTimer> {
 public:
  explicit AsioTimer(asio::io_context& io) : m_timer(asio::make_strand(io)) {}
  void start(std::chrono::milliseconds delay, std::function<void()> callback) {
    m_timer.expires_after(delay);
    m_timer.async_wait([self = shared_from_this(), callback = std::move(callback)](boost::system::error_code ec) {
      if (!ec && !self->m_cancelled) callback();
    });
  }
  void cancel() override {
    // On the timer's strand: an Asio timer is not safe to touch from two threads.
    asio::post(m_timer.get_executor(), [self = shared_from_this()] {
      self->m_cancelled = true;
      self->m_timer.cancel();
    });
  }

 private:
  asio::steady_timer m_timer;
  bool m_cancelled = false;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerOptions options) : shared(std::make_shared<ServerShared>(std::move(options))) {}

  void accept_next();
  void on_accept(boost::system::error_code ec, Socket socket);
  std::vector<std::shared_ptr<Connection>> live_connections();
  bool wait_until_none_left(std::chrono::milliseconds limit);

  std::shared_ptr<ServerShared> shared;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::optional<Acceptor> acceptor;
  asio::steady_timer accept_pause{io};
  std::vector<std::thread> threads;
  bool stopped = false;
};

void HttpServer::Impl::accept_next() {
  acceptor->async_accept(asio::make_strand(io), [this](boost::system::error_code ec, Socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void HttpServer::Impl::on_accept(boost::system::error_code ec, Socket socket) {
  if (ec == asio::error::operation_aborted || shared->stopping) return;
  if (ec) {
    // Out of fds (EMFILE), say: pause rather than spin on the error.
    spdlog::warn("accepting an API connection failed: {}", ec.message());
    accept_pause.expires_after(std::chrono::milliseconds(100));
    accept_pause.async_wait([this](boost::system::error_code) { if (!shared->stopping) accept_next(); });
    return;
  }
  // Counted and registered here, one accept at a time, so the count holds.
  size_t count;
  {
    std::lock_guard lock(shared->mutex);
    count = shared->counted();
  }
  if (count >= shared->options.max_connections) refuse(shared, std::move(socket));
  else serve(shared, std::move(socket));
  accept_next();
}

std::vector<std::shared_ptr<Connection>> HttpServer::Impl::live_connections() {
  std::vector<std::shared_ptr<Connection>> connections;
  std::lock_guard lock(shared->mutex);
  for (auto& [key, weak] : shared->live)
    if (auto connection = weak.lock()) connections.push_back(connection);
  return connections;
}

bool HttpServer::Impl::wait_until_none_left(std::chrono::milliseconds limit) {
  std::unique_lock lock(shared->mutex);
  return shared->connection_left.wait_for(lock, limit, [this] { return shared->live.empty(); });
}

HttpServer::HttpServer(ServerOptions options) : m_impl(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

Router& HttpServer::routes() { return m_impl->shared->router; }

void HttpServer::add_request_check(RequestCheck check) { m_impl->shared->checks.push_back(std::move(check)); }

const ServerOptions& HttpServer::options() const { return m_impl->shared->options; }

void HttpServer::start(UniqueFd listener, bool is_unix) {
  auto& impl = *m_impl;
  impl.shared->unix_listener = is_unix;
  int family = is_unix ? AF_UNIX : AF_INET;
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0) family = address.ss_family;
  impl.acceptor.emplace(impl.io, asio::generic::stream_protocol(family, SOCK_STREAM), listener.release());
  impl.accept_next();
  for (size_t i = 0; i < std::max<size_t>(1, impl.shared->options.io_threads); ++i)
    impl.threads.emplace_back([&impl] { impl.io.run(); });
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  auto& impl = *m_impl;
  if (impl.stopped) return;
  impl.stopped = true;
  impl.shared->stopping = true;
  if (impl.acceptor)
    asio::post(impl.io, [&impl] {
      boost::system::error_code ignored;
      impl.acceptor->close(ignored);
      impl.accept_pause.cancel();
    });
  for (auto& connection : impl.live_connections())
    stop_gently(connection);
  if (!impl.wait_until_none_left(grace))
    for (auto& connection : impl.live_connections())
      close_now(connection);
  impl.wait_until_none_left(std::chrono::milliseconds(500));
  impl.work.reset();
  impl.io.stop();  // timers of ?wait= requests would keep it running
  for (auto& thread : impl.threads) thread.join();
  impl.shared->workers.drain();
}

void HttpServer::post_work(std::function<void()> task) { m_impl->shared->workers.post(std::move(task)); }

std::shared_ptr<CancelableTimer> HttpServer::call_after(std::chrono::milliseconds delay,
                                                        std::function<void()> callback) {
  auto timer = std::make_shared<AsioTimer>(m_impl->io);
  timer->start(delay, std::move(callback));
  return timer;
}

size_t HttpServer::connections() const {
  std::lock_guard lock(m_impl->shared->mutex);
  return m_impl->shared->counted();
}

}  // namespace corral
