// A relay's life on its hub thread: connect, check, send the first bytes,
// then carry both ways until both sides end, either fails, it is closed, or
// it sat idle too long.
#include "relay.hpp"

#include "relay_hub_impl.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace corral {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono;

namespace {

constexpr auto kConnectTimeout = seconds(5);
// After one side has ended its sending, how long the other may still send.
// A WebSocket has no use for a half-open connection, and a browser that
// never answers a client's FIN must not keep the relay (and its session's
// "not idle") alive.
constexpr auto kLingerAfterHalfClose = seconds(2);
// A read takes at most a chunk; a direction carries at most a turn before
// its thread looks at its other relays (a 24 MB screenshot must not hold
// up every other session's CDP messages).
constexpr size_t kChunk = 64 * 1024;
constexpr size_t kTurn = 1 << 20;

// Every read of a hub thread lands in this one buffer and is written on
// from it at once; only what a receiver does not take then is copied into
// the direction's own buffer. So a relay holds no buffer while it waits
// (2,000 idle relays with two 64 KiB buffers each held 281 MiB), and a
// message costs no allocation.
char* thread_chunk() {
  thread_local std::unique_ptr<char[]> chunk(new char[kChunk]);
  return chunk.get();
}

bool would_block(const error_code& ec) { return ec == asio::error::would_block || ec == asio::error::try_again; }

// Write what the receiver takes now, without waiting: the bytes written;
// `ec` set only on a failure.
template <class To>
size_t write_now(To& to, const char* bytes, size_t size, error_code& ec) {
  size_t sent = 0;
  while (sent < size) {
    size_t n = to.write_some(asio::buffer(bytes + sent, size - sent), ec);
    if (would_block(ec)) {
      ec = {};
      break;
    }
    if (ec) break;
    sent += n;
  }
  return sent;
}

}  // namespace

asio::generic::stream_protocol::socket adopt_socket(asio::io_context& io, int fd) {
  using Generic = asio::generic::stream_protocol;
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (address.ss_family != AF_UNIX) {
    int on = 1;  // a CDP message is one small write: no Nagle delay
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  return Generic::socket(io, Generic(address.ss_family, address.ss_family == AF_UNIX ? 0 : IPPROTO_TCP), fd);
}

Relay::Relay(asio::io_context& io, RelayHub::Plan plan, std::function<void()> forget)
    : m_io(io), m_client(io), m_upstream(io), m_timer(io), m_idle(io), m_plan(std::move(plan)),
      m_forget(std::move(forget)) {}

void Relay::launch() {
  asio::post(m_io, [self = shared_from_this()] { self->start(); });
}

void Relay::close() {
  asio::post(m_io, [self = shared_from_this()] { self->close_both(); });
}

void Relay::start() {
  if (m_closed) return;  // the client's fd closes with the plan
  m_client = adopt_socket(m_io, m_plan.client.release());
  error_code ignored;
  m_client.non_blocking(true, ignored);  // carry() reads and writes what it can, never waits in a call
  auto upstream = open_to_session(m_upstream, m_plan.upstream_network, m_plan.upstream_port);
  if (!upstream) return refuse(upstream.error().message);
  m_timer.expires_after(kConnectTimeout);
  m_timer.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->m_upstream.cancel();
  });
  m_upstream.async_connect(*upstream, [self = shared_from_this()](error_code ec) { self->connected(ec); });
}

void Relay::connected(error_code ec) {
  m_timer.cancel();
  if (ec) return refuse("the browser's DevTools port did not answer: " + ec.message());
  m_upstream.set_option(Tcp::no_delay(true), ec);
  m_upstream.non_blocking(true, ec);
  if (m_plan.check_upstream)
    if (auto checked = m_plan.check_upstream(); !checked) return refuse(checked.error().message);
  asio::async_write(m_upstream, asio::buffer(m_plan.to_upstream), [self = shared_from_this()](error_code ec, size_t) {
    if (ec) return self->close_both();
    std::string().swap(self->m_plan.to_upstream);
    self->m_last_bytes = steady_clock::now();
    self->watch_idle();
    self->pump(self->m_client, self->m_upstream, self->m_up);
    self->pump(self->m_upstream, self->m_client, self->m_down);
  });
}

// Close the relay once neither side has sent a byte for idle_timeout (a
// client that upgraded and then went silent must not hold its places for
// ever). The timer wakes at the earliest moment that can be true: a message
// only notes the time, it never re-arms the timer.
void Relay::watch_idle() {
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

void Relay::refuse(const std::string& why) {
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
void Relay::pump(From& from, To& to, Direction& direction) {
  from.async_wait(asio::socket_base::wait_read, [self = shared_from_this(), &from, &to, &direction](error_code ec) {
    if (ec) return self->close_both();
    self->carry(from, to, direction);
  });
}

// Read what has arrived and write it on at once, on this thread, until the
// sender has nothing more (a read that did not fill the chunk: waiting
// again asks the kernel, which says at once if more came meanwhile), the
// receiver takes no more (the rest waits in the direction's buffer), or a
// turn is used up. EOF becomes a half-close of `to`.
template <class From, class To>
void Relay::carry(From& from, To& to, Direction& direction) {
  for (size_t carried = 0; carried < kTurn;) {
    error_code ec;
    char* chunk = thread_chunk();
    size_t n = from.read_some(asio::buffer(chunk, kChunk), ec);
    if (would_block(ec)) return pump(from, to, direction);
    if (ec == asio::error::eof) return ended(to, direction);
    if (ec) return close_both();
    m_last_bytes = steady_clock::now();
    size_t sent = write_now(to, chunk, n, ec);
    if (ec) return close_both();
    if (sent < n) {
      direction.pending.reset(new char[n - sent]);
      std::copy(chunk + sent, chunk + n, direction.pending.get());
      direction.pending_size = n - sent;
      direction.pending_sent = 0;
      return flush(from, to, direction);
    }
    if (n < kChunk) return pump(from, to, direction);
    carried += n;
  }
  asio::post(m_io, [self = shared_from_this(), &from, &to, &direction] { self->carry(from, to, direction); });
}

// Bytes `to` did not take: wait until it takes more, and carry on once it
// has them all.
template <class From, class To>
void Relay::flush(From& from, To& to, Direction& direction) {
  to.async_wait(asio::socket_base::wait_write, [self = shared_from_this(), &from, &to, &direction](error_code ec) {
    if (ec) return self->close_both();
    error_code failed;
    direction.pending_sent += write_now(to, direction.pending.get() + direction.pending_sent,
                                        direction.pending_size - direction.pending_sent, failed);
    if (failed) return self->close_both();
    if (direction.pending_sent < direction.pending_size) return self->flush(from, to, direction);
    direction.pending.reset();
    self->carry(from, to, direction);
  });
}

template <class To>
void Relay::ended(To& to, Direction& direction) {
  error_code ignored;
  to.shutdown(asio::socket_base::shutdown_send, ignored);
  direction.done = true;
  if (m_up.done && m_down.done) return close_both();
  m_timer.expires_after(kLingerAfterHalfClose);
  m_timer.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->close_both();
  });
}

void Relay::close_both() {
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

}  // namespace corral
