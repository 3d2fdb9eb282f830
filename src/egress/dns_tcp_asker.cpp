// One TCP connection of a session to its resolver (glibc falls back to TCP
// for a truncated answer; `options use-vc` asks over TCP only): queries,
// each after its two-byte length, answered one at a time and in order, as
// glibc's pipelined A and AAAA queries expect. It ends when the session
// closes it, stays idle past DnsLimits::tcp_idle_timeout, sends what is not
// a query, or a query finds no answer.
#include "dns_forwarder_impl.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace corral {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

class TcpAsker : public std::enable_shared_from_this<TcpAsker> {
 public:
  TcpAsker(DnsForwarder::Impl& forwarder, std::shared_ptr<DnsSession> session, tcp::socket asker)
      : m_forwarder(forwarder), m_session(std::move(session)), m_asker(std::move(asker)),
        m_idle(m_asker.get_executor()) {}

  void start() {
    m_session->tcp_connections++;
    m_id = m_session->remember([weak = weak_from_this()] {
      if (auto alive = weak.lock()) alive->close();
    });
    read_query();
  }

  void close() {
    if (m_closed) return;
    m_closed = true;
    error_code ignored;
    m_asker.close(ignored);
    m_idle.cancel();
    m_session->tcp_connections--;
    m_session->closers.erase(m_id);
  }

 private:
  void read_query() {
    m_idle.expires_after(m_forwarder.limits.tcp_idle_timeout);
    m_idle.async_wait([weak = weak_from_this()](error_code ec) {
      if (auto alive = weak.lock(); alive && !ec) alive->close();
    });
    asio::async_read(m_asker, asio::buffer(m_length), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->close();
      self->m_query.resize(size_t(self->m_length[0]) << 8 | self->m_length[1]);
      asio::async_read(self->m_asker, asio::buffer(self->m_query), [self](error_code ec, size_t) {
        if (ec) return self->close();
        self->m_idle.cancel();
        self->forward();
      });
    });
  }

  void forward() {
    if (!is_dns_query(m_query)) {
      m_session->tally.dropped++;
      return close();
    }
    bool taken = m_forwarder.forward(m_session, std::move(m_query), true,
                                     [self = shared_from_this()](std::optional<DnsMessage> answer) {
                                       if (!answer) return self->close();
                                       self->answer(std::move(*answer));
                                     });
    if (!taken) close();
  }

  void answer(DnsMessage answer) {
    if (m_closed) return;
    m_answer = std::move(answer);
    m_length = {static_cast<uint8_t>(m_answer.size() >> 8), static_cast<uint8_t>(m_answer.size())};
    std::array<asio::const_buffer, 2> message{asio::buffer(m_length), asio::buffer(m_answer)};
    asio::async_write(m_asker, message, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->close();
      self->read_query();
    });
  }

  DnsForwarder::Impl& m_forwarder;
  std::shared_ptr<DnsSession> m_session;
  tcp::socket m_asker;
  asio::steady_timer m_idle;
  std::array<uint8_t, 2> m_length{};
  DnsMessage m_query, m_answer;
  uint64_t m_id = 0;
  bool m_closed = false;
};

}  // namespace

void serve_tcp_asker(DnsForwarder::Impl& forwarder, const std::shared_ptr<DnsSession>& session, tcp::socket asker) {
  if (session->tcp_connections >= forwarder.limits.max_tcp_connections_per_session) {
    session->tally.dropped++;
    return;  // the connection closes here
  }
  std::make_shared<TcpAsker>(forwarder, session, std::move(asker))->start();
}

}  // namespace corral
