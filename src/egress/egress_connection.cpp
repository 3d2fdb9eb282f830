// One page connection through the egress relay, on a strand of its own:
// the SOCKS5 greeting and request (within the handshake deadline), the
// destination's addresses (resolved here, within the resolve deadline),
// each judged by the policy before it is tried, a connect to the first
// allowed one that answers, then bytes both ways, moved inside the kernel
// (splice through a pipe a direction), until either side ends or both stay
// silent past the idle timeout.
#include "egress_relay_impl.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <cstring>
#include <span>

#include "corral/egress/socket_as_uid.hpp"
#include "corral/egress/socks5.hpp"
#include "corral/egress/splice_pipe.hpp"
#include "asio_endpoints.hpp"
#include "read_batching.hpp"
#include "upstream_handshake.hpp"

namespace corral {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono;

namespace {

// Bytes one direction moves before it lets the strand's other work run.
constexpr size_t kTurn = 256 * 1024;
// A greeting (at most 257 bytes) and a request (at most 262) sent at once.
constexpr size_t kHandshakeBytes = 1024;

// One direction of the relay: its pipe, its count, whether its sender ended.
struct Direction {
  SplicePipe pipe;
  std::atomic<uint64_t>* counted = nullptr;
  bool done = false;
};

enum class Phase { greeting, request, resolving, connecting, proxying, relaying };

}  // namespace

class EgressConnection : public std::enable_shared_from_this<EgressConnection> {
 public:
  EgressConnection(const EgressRelay::Impl& relay, std::shared_ptr<ServedSession> session, uint64_t id,
                   EgressStrand strand, tcp::socket page)
      : m_relay(relay), m_session(std::move(session)), m_id(id), m_page(std::move(page)), m_upstream(strand),
        m_resolver(strand), m_deadline(strand), m_idle(strand), m_batching(strand) {
    m_up.counted = &m_session->tally.bytes_out;
    m_down.counted = &m_session->tally.bytes_in;
  }

  void start() {
    asio::post(m_page.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->m_page.set_option(tcp::no_delay(true), ignored);
      self->arm_deadline(self->m_relay.limits.handshake_timeout);
      self->read_handshake();
    });
  }

  void close_from_outside(std::function<void()> done) {
    asio::post(m_page.get_executor(), [self = shared_from_this(), done = std::move(done)] {
      self->close();
      done();
    });
  }

 private:
  // --- the SOCKS5 handshake ---

  void read_handshake() {
    if (m_have == m_handshake.size()) return give_up(m_session->tally.bad_handshake);
    m_page.async_read_some(asio::buffer(m_handshake.data() + m_have, m_handshake.size() - m_have),
                           [self = shared_from_this()](error_code ec, size_t n) {
                             if (ec) return self->give_up(self->m_session->tally.bad_handshake);
                             self->m_have += n;
                             self->handshake_step();
                           });
  }

  std::span<const uint8_t> handshake_bytes() const { return {m_handshake.data(), m_have}; }

  void consume(size_t length) {
    std::copy(m_handshake.begin() + static_cast<long>(length), m_handshake.begin() + static_cast<long>(m_have),
              m_handshake.begin());
    m_have -= length;
  }

  void handshake_step() {
    if (m_phase == Phase::greeting) return greeting_step();
    auto request = socks5::parse_request(handshake_bytes());
    if (request.state == socks5::Parse::incomplete) return read_handshake();
    if (request.state == socks5::Parse::malformed) return give_up(m_session->tally.bad_handshake);
    if (request.state == socks5::Parse::unknown_address_type) {
      m_session->tally.unsupported.fetch_add(1);
      return answer_and_close(socks5::Reply::address_type_not_supported);
    }
    consume(request.length);  // what is left, the page sent early: it goes up first
    if (request.command != socks5::kConnect) {
      m_session->tally.unsupported.fetch_add(1);
      return answer_and_close(socks5::Reply::command_not_supported);
    }
    m_name = request.name;
    if (m_session->settings.proxy) return toward_proxy(request);
    if (request.address) return judge({IpEndpoint{*request.address, request.port}});
    resolve(request.name, request.port);
  }

  void greeting_step() {
    auto greeting = socks5::parse_greeting(handshake_bytes());
    if (greeting.state == socks5::Parse::incomplete) return read_handshake();
    if (greeting.state != socks5::Parse::complete) return give_up(m_session->tally.bad_handshake);
    consume(greeting.length);
    m_method = socks5::method_choice(greeting.offers_no_authentication);
    if (!greeting.offers_no_authentication) m_session->tally.bad_handshake.fetch_add(1);
    asio::async_write(m_page, asio::buffer(m_method), [self = shared_from_this()](error_code ec, size_t) {
      if (ec || self->m_method[1] != socks5::kNoAuthentication) return self->close();
      self->m_phase = Phase::request;
      self->handshake_step();  // the request may be here already
    });
  }

  // --- where to: resolved here, every address judged ---

  void resolve(const std::string& name, uint16_t port) {
    if (name.find('\0') != std::string::npos) return unreachable(socks5::Reply::host_unreachable);
    m_phase = Phase::resolving;
    arm_deadline(m_relay.limits.resolve_timeout);
    m_resolver.async_resolve(name, std::to_string(port), tcp::resolver::numeric_service,
                             [self = shared_from_this()](error_code ec, tcp::resolver::results_type found) {
                               if (self->m_closed) return;
                               if (ec) return self->unreachable(socks5::Reply::host_unreachable);
                               std::vector<IpEndpoint> candidates;
                               for (const auto& entry : found) candidates.push_back(corral_endpoint(entry.endpoint()));
                               self->judge(std::move(candidates));
                             });
  }

  // The allowed addresses, in the resolver's order, become the targets;
  // if none is allowed, the first refusal is the one counted.
  void judge(const std::vector<IpEndpoint>& candidates) {
    std::optional<EgressReason> refusal;
    bool proxy = m_session->settings.proxy && !m_through_proxy;  // these are the proxy's own addresses
    auto narrowing = m_session->lists();
    for (const auto& candidate : candidates) {
      auto decision = m_relay.policy.decide(candidate, proxy ? &narrowing->proxy : &narrowing->destinations);
      if (decision.allowed() && m_targets.size() < m_relay.limits.max_addresses_tried) m_targets.push_back(candidate);
      if (!decision.allowed() && !refusal) refusal = decision.reason;
    }
    if (!m_targets.empty()) return try_next_target();
    if (!refusal) return unreachable(socks5::Reply::host_unreachable);
    m_session->tally.count_refusal(*refusal);
    spdlog::debug("session {}: egress to {}{} refused: {}", m_session->id, m_name.empty() ? "" : m_name + " at ",
                  candidates.front().address.to_string(), egress_reason_name(*refusal));
    answer_and_close(socks5::Reply::not_allowed);
  }

  // --- through the session's proxy: the page's destination is its to reach ---

  // A literal address is judged here; a name goes to the proxy as it is.
  // The proxy's own addresses are judged by the operator's policy and the
  // session's deny list (ServedSession::Narrowing::proxy).
  void toward_proxy(const socks5::Request& request) {
    m_destination = request.address ? request.address->to_string() : request.name;
    m_destination_port = request.port;
    if (request.address) {
      auto decision = m_relay.policy.decide({*request.address, request.port}, &m_session->lists()->destinations);
      if (!decision.allowed()) m_session->tally.count_refusal(decision.reason);
      if (!decision.allowed()) return answer_and_close(socks5::Reply::not_allowed);
    }
    m_name = "the proxy " + m_session->settings.proxy->redacted();  // what a refusal from here on is logged as
    resolve(m_session->settings.proxy->host, m_session->settings.proxy->port);
  }

  void ask_proxy() {
    m_phase = Phase::proxying;
    arm_deadline(m_relay.limits.handshake_timeout);
    ask_upstream_proxy(m_upstream, *m_session, m_destination, m_destination_port,
                       [self = shared_from_this()](UpstreamOutcome outcome) {
                         if (self->m_closed) return;
                         if (outcome.state != UpstreamDialogue::State::connected)
                           return self->answer_and_close(outcome.reply);
                         self->m_through_proxy = true;
                         self->m_early = std::move(outcome.early);
                         self->m_down.counted->fetch_add(self->m_early.size());
                         self->connected();
                       });
  }

  // --- out: a socket of the session's uid, to each target in turn ---

  void try_next_target() {
    if (m_next_target == m_targets.size()) return unreachable(reply_for(m_last_error));
    const IpEndpoint& target = m_targets[m_next_target++];
    error_code ec;
    m_upstream.close(ec);
    auto socket = open_socket_as(m_session->settings.uid, target.address.is_v4() ? AF_INET : AF_INET6);
    if (!socket) {
      spdlog::warn("session {}: no way out: {}", m_session->id, socket.error().message);
      return unreachable(socks5::Reply::general_failure);
    }
    m_upstream.assign(target.address.is_v4() ? tcp::v4() : tcp::v6(), socket->release(), ec);
    if (ec) return unreachable(socks5::Reply::general_failure);
    m_phase = Phase::connecting;
    arm_deadline(m_relay.limits.connect_timeout);
    m_upstream.async_connect(asio_endpoint(target), [self = shared_from_this()](error_code ec) {
      if (self->m_closed) return;
      if (ec == asio::error::operation_aborted && self->m_timed_out) ec = asio::error::timed_out;
      if (ec) self->m_last_error = ec;
      if (ec) return self->try_next_target();
      self->connected();
    });
  }

  void connected() {
    ++m_deadlines;
    m_deadline.cancel();
    if (m_session->settings.proxy && !m_through_proxy) return ask_proxy();
    m_session->tally.connections.fetch_add(1);
    error_code ignored;
    m_upstream.set_option(tcp::no_delay(true), ignored);
    m_reply = socks5::reply(socks5::Reply::succeeded);
    std::array<asio::const_buffer, 2> reply_and_early{asio::buffer(m_reply), asio::buffer(m_early)};
    asio::async_write(m_page, reply_and_early, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->close();
      if (self->m_have == 0) return self->begin_relay();
      asio::async_write(self->m_upstream, asio::buffer(self->m_handshake.data(), self->m_have),
                        [self](error_code ec, size_t n) {
                          if (ec) return self->close();
                          if (self->m_session->count(*self->m_up.counted, n)) return self->over_cap();
                          self->begin_relay();
                        });
    });
  }

  // --- the relay proper ---

  void begin_relay() {
    m_phase = Phase::relaying;
    if (!m_up.pipe.open() || !m_down.pipe.open()) {
      spdlog::warn("egress {}: no pipe for a connection ({}); closed", m_session->id, std::strerror(errno));
      return close();
    }
    error_code ignored;
    m_page.native_non_blocking(true, ignored);  // splice must not block the relay's thread
    m_upstream.native_non_blocking(true, ignored);
    m_last_bytes = steady_clock::now();
    watch_idle();
    pump(m_page, m_upstream, m_up);
    pump(m_upstream, m_page, m_down);
  }

  // Moves what there is, then waits for whichever side held it up.
  void pump(tcp::socket& from, tcp::socket& to, Direction& direction) {
    if (m_closed) return;
    if (m_session->over_cap) return close();
    auto step = direction.pipe.transfer(from.native_handle(), to.native_handle(), m_session->turn_within_cap(kTurn));
    if (step.delivered > 0) {
      m_last_bytes = steady_clock::now();
      if (m_session->count(*direction.counted, step.delivered)) return over_cap();
    }
    auto again = [self = shared_from_this(), &from, &to, &direction](error_code ec) {
      if (ec) return self->close();
      self->pump(from, to, direction);
    };
    switch (step.next) {
      case SplicePipe::Next::more: return asio::post(from.get_executor(), [again] { again({}); });
      case SplicePipe::Next::wait_readable:
        if (&direction == &m_down) m_batching.before_wait(from, step.delivered, shared_from_this());
        return from.async_wait(tcp::socket::wait_read, again);
      case SplicePipe::Next::wait_writable: return to.async_wait(tcp::socket::wait_write, again);
      case SplicePipe::Next::sender_ended: return ended(to, direction);
      case SplicePipe::Next::failed: return close();
    }
  }

  // A sender's end passes on as a half-close; both ended, both close.
  void ended(tcp::socket& to, Direction& direction) {
    error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
    direction.done = true;
    if (m_up.done && m_down.done) close();
  }

  // Wakes at the earliest moment the connection can have been idle long enough.
  void watch_idle() {
    if (m_relay.limits.idle_timeout.count() <= 0 || m_closed) return;
    m_idle.expires_at(m_last_bytes + m_relay.limits.idle_timeout);
    m_idle.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->m_closed) return;
      if (steady_clock::now() < self->m_last_bytes + self->m_relay.limits.idle_timeout) return self->watch_idle();
      self->close();
    });
  }

  // --- deadlines and endings ---

  // One deadline at a time: the handshake's, the resolver's, a connect's.
  void arm_deadline(milliseconds timeout) {
    m_timed_out = false;
    m_deadline.expires_after(timeout);
    m_deadline.async_wait([self = shared_from_this(), armed = ++m_deadlines](error_code ec) {
      if (ec || self->m_closed || self->m_deadlines != armed) return;  // met, or replaced by the next one
      self->m_timed_out = true;
      auto phase = self->m_phase;
      if (phase == Phase::resolving) return self->m_resolver.cancel();
      if (phase == Phase::connecting || phase == Phase::proxying) return self->m_upstream.cancel();
      self->give_up(self->m_session->tally.bad_handshake);  // the page took too long to ask
    });
  }

  // This connection's bytes took the session past its cap: all of its
  // connections end now, this one first.
  void over_cap() {
    close();
    m_relay.stop_over_cap(m_session);
  }

  void give_up(std::atomic<uint64_t>& counted) {
    if (!m_closed) counted.fetch_add(1);
    close();
  }

  void unreachable(socks5::Reply reply) {
    m_session->tally.unreachable.fetch_add(1);
    answer_and_close(reply);
  }

  void answer_and_close(socks5::Reply code) {
    ++m_deadlines;
    m_deadline.cancel();
    m_reply = socks5::reply(code);
    asio::async_write(m_page, asio::buffer(m_reply), [self = shared_from_this()](error_code, size_t) {
      error_code ignored;
      self->m_page.shutdown(tcp::socket::shutdown_send, ignored);
      self->close();
    });
  }

  void close() {
    if (m_closed) return;
    m_closed = true;
    error_code ignored;
    m_deadline.cancel();
    m_idle.cancel();
    m_batching.stop();
    m_resolver.cancel();
    m_page.close(ignored);
    m_upstream.close(ignored);
    m_session->forget(m_id);
  }

  const EgressRelay::Impl& m_relay;
  std::shared_ptr<ServedSession> m_session;
  const uint64_t m_id;
  tcp::socket m_page, m_upstream;
  tcp::resolver m_resolver;
  asio::steady_timer m_deadline, m_idle;
  Phase m_phase = Phase::greeting;
  uint64_t m_deadlines = 0;  ///< deadlines armed so far: a late one's handler knows it is stale
  bool m_timed_out = false, m_closed = false;
  std::array<uint8_t, kHandshakeBytes> m_handshake{};
  size_t m_have = 0;  ///< handshake bytes read and not yet used
  std::array<uint8_t, 2> m_method{};
  std::array<uint8_t, 10> m_reply{};
  std::string m_name;  ///< the name the page asked for, if it gave one (with a proxy: the proxy, redacted)
  std::string m_destination;  ///< with a proxy: the name or address the proxy is asked for
  uint16_t m_destination_port = 0;
  bool m_through_proxy = false;  ///< the proxy answered: the connection is the destination's
  std::string m_early;           ///< the destination's bytes that came with the proxy's answer
  std::vector<IpEndpoint> m_targets;
  size_t m_next_target = 0;
  error_code m_last_error;
  Direction m_up, m_down;  ///< page to world; world to page
  ReadBatching m_batching;  ///< m_down's: pages download far more than they send
  steady_clock::time_point m_last_bytes;
};

std::shared_ptr<EgressConnection> make_egress_connection(const EgressRelay::Impl& relay,
                                                         std::shared_ptr<ServedSession> session, uint64_t id,
                                                         EgressStrand strand, tcp::socket page) {
  return std::make_shared<EgressConnection>(relay, std::move(session), id, strand, std::move(page));
}

void start_egress_connection(const std::shared_ptr<EgressConnection>& connection) {
  connection->start();
}

void close_egress_connection(const std::shared_ptr<EgressConnection>& connection, std::function<void()> done) {
  connection->close_from_outside(std::move(done));
}

}  // namespace corral
