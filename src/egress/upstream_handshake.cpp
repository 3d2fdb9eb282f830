#include "upstream_handshake.hpp"

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <memory>
#include <vector>

namespace corral {

namespace asio = boost::asio;
using boost::system::error_code;
using State = UpstreamDialogue::State;

namespace {

// Reads the proxy's answer in pieces, handing everything unused so far to
// the dialogue each time, until it is connected or gives up.
class UpstreamHandshake : public std::enable_shared_from_this<UpstreamHandshake> {
 public:
  UpstreamHandshake(asio::ip::tcp::socket& socket, const UpstreamProxy& proxy, std::string host, uint16_t port,
                    std::function<void(UpstreamOutcome)> done)
      : m_socket(socket), m_dialogue(proxy, std::move(host), port), m_done(std::move(done)) {}

  void start() { send(m_dialogue.opening()); }

 private:
  void send(std::string bytes) {
    m_sending = std::move(bytes);
    asio::async_write(m_socket, asio::buffer(m_sending), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->lost(ec);
      self->step();  // an answer may be waiting already
    });
  }

  void read() {
    if (m_have == m_buffer.size()) m_buffer.resize(std::min(m_buffer.size() * 2, kLongestProxyAnswerHead + 1024));
    if (m_have == m_buffer.size()) return finish({State::failed, socks5::Reply::general_failure, "answer too long", {}});
    m_socket.async_read_some(asio::buffer(m_buffer.data() + m_have, m_buffer.size() - m_have),
                             [self = shared_from_this()](error_code ec, size_t n) {
                               if (ec) return self->lost(ec);
                               self->m_have += n;
                               self->step();
                             });
  }

  void step() {
    auto next = m_dialogue.received({m_buffer.data(), m_have});
    if (next.state == State::need_more) return read();
    m_buffer.erase(m_buffer.begin(), m_buffer.begin() + static_cast<long>(next.consumed));
    m_have -= next.consumed;
    if (next.state == State::send) return send(std::move(next.to_send));
    UpstreamOutcome outcome{next.state, next.reply, std::move(next.why), {}};
    if (next.state == State::connected) outcome.early.assign(m_buffer.begin(), m_buffer.begin() + static_cast<long>(m_have));
    finish(std::move(outcome));
  }

  void lost(error_code ec) {
    bool timed_out = ec == asio::error::operation_aborted;
    finish({State::failed, timed_out ? socks5::Reply::ttl_expired : socks5::Reply::general_failure,
            timed_out ? "the proxy did not answer in time" : "the proxy closed: " + ec.message(), {}});
  }

  void finish(UpstreamOutcome outcome) {
    auto done = std::move(m_done);
    if (done) done(std::move(outcome));
  }

  asio::ip::tcp::socket& m_socket;
  UpstreamDialogue m_dialogue;
  std::function<void(UpstreamOutcome)> m_done;
  std::string m_sending;
  std::vector<uint8_t> m_buffer = std::vector<uint8_t>(1024);
  size_t m_have = 0;
};

}  // namespace

void ask_upstream_proxy(asio::ip::tcp::socket& socket, ServedSession& session, std::string host, uint16_t port,
                        std::function<void(UpstreamOutcome)> done) {
  const UpstreamProxy& proxy = *session.settings.proxy;
  auto counted = [&session, &proxy, host, port, done = std::move(done)](UpstreamOutcome outcome) {
    if (outcome.state != State::connected) {
      bool credential = outcome.state == State::credential_refused;
      (credential ? session.tally.proxy_refused : session.tally.proxy_failed).fetch_add(1);
      spdlog::info("session {}: proxy {} did not connect to {}:{}: {}", session.id, proxy.redacted(), host, port,
                   outcome.why);
    }
    done(std::move(outcome));
  };
  std::make_shared<UpstreamHandshake>(socket, proxy, std::move(host), port, std::move(counted))->start();
}

}  // namespace corral
