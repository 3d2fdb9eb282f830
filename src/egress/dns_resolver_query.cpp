// One query put to the resolvers: to each in turn, within the timeout,
// until one answers it. Over UDP on a fresh socket connected to the
// resolver (the kernel takes datagrams from that address and port only),
// or over TCP on a fresh connection; either way the answer must carry the
// query's id and be marked a response, or it is not the answer.
#include "dns_forwarder_impl.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace corral {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

namespace {

asio::ip::address asio_address(const IpAddress& address) {
  const auto& bytes = address.bytes;
  if (address.is_v4()) return asio::ip::address_v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  asio::ip::address_v6::bytes_type v6;
  std::copy(bytes.begin(), bytes.end(), v6.begin());
  return asio::ip::address_v6(v6);
}

bool answers(const DnsMessage& answer, const DnsMessage& query) {
  return answer.size() >= 12 && answer[0] == query[0] && answer[1] == query[1] && (answer[2] & 0x80);
}

class ResolverQuery : public std::enable_shared_from_this<ResolverQuery> {
 public:
  ResolverQuery(DnsForwarder::Impl& forwarder, DnsMessage query, bool over_tcp,
                std::function<void(std::optional<DnsMessage>)> done)
      : m_forwarder(forwarder), m_query(std::move(query)), m_over_tcp(over_tcp), m_done(std::move(done)),
        m_udp(forwarder.io), m_tcp(m_udp.get_executor()), m_timer(m_udp.get_executor()) {
    m_length = {static_cast<uint8_t>(m_query.size() >> 8), static_cast<uint8_t>(m_query.size())};
  }

  void ask(size_t attempt) {
    if (m_finished) return;
    if (attempt >= m_forwarder.resolvers.size()) return finish(std::nullopt);
    m_attempt = attempt;
    m_timer.expires_after(m_forwarder.limits.timeout);
    m_timer.async_wait([self = shared_from_this(), attempt](error_code ec) {
      if (!ec && self->m_attempt == attempt) self->close_sockets();  // its pending read ends: the next is asked
    });
    const auto& resolver = m_forwarder.resolvers[attempt];
    auto address = asio_address(resolver.address);
    if (m_over_tcp) ask_over_tcp(tcp::endpoint(address, resolver.port));
    else ask_over_udp(udp::endpoint(address, resolver.port));
  }

  void abandon() {
    m_abandoned = true;
    close_sockets();
    finish(std::nullopt);
  }

 private:
  void ask_over_udp(const udp::endpoint& resolver) {
    error_code ec;
    m_udp.close(ec);
    m_udp.open(resolver.protocol(), ec);
    if (!ec) m_udp.connect(resolver, ec);
    if (ec) return next();
    m_udp.async_send(asio::buffer(m_query), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->next();
      self->receive_over_udp();
    });
  }

  void receive_over_udp() {
    m_answer.resize(65535);
    m_udp.async_receive(asio::buffer(m_answer), [self = shared_from_this()](error_code ec, size_t n) {
      if (ec) return self->next();
      self->m_answer.resize(n);
      if (!answers(self->m_answer, self->m_query)) return self->receive_over_udp();  // a late answer to another
      self->finish(std::move(self->m_answer));
    });
  }

  void ask_over_tcp(const tcp::endpoint& resolver) {
    error_code ignored;
    m_tcp.close(ignored);
    m_tcp.async_connect(resolver, [self = shared_from_this()](error_code ec) {
      if (ec) return self->next();
      std::array<asio::const_buffer, 2> message{asio::buffer(self->m_length), asio::buffer(self->m_query)};
      asio::async_write(self->m_tcp, message, [self](error_code ec, size_t) {
        if (ec) return self->next();
        self->receive_over_tcp();
      });
    });
  }

  void receive_over_tcp() {
    asio::async_read(m_tcp, asio::buffer(m_answer_length), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->next();
      self->m_answer.resize(size_t(self->m_answer_length[0]) << 8 | self->m_answer_length[1]);
      asio::async_read(self->m_tcp, asio::buffer(self->m_answer), [self](error_code ec, size_t) {
        if (ec || !answers(self->m_answer, self->m_query)) return self->next();
        self->finish(std::move(self->m_answer));
      });
    });
  }

  void next() {
    if (m_abandoned) return finish(std::nullopt);
    m_timer.cancel();
    ask(m_attempt + 1);
  }

  void close_sockets() {
    error_code ignored;
    m_udp.close(ignored);
    m_tcp.close(ignored);
  }

  void finish(std::optional<DnsMessage> answer) {
    if (m_finished) return;
    m_finished = true;
    m_timer.cancel();
    close_sockets();
    auto done = std::move(m_done);
    done(std::move(answer));
  }

  DnsForwarder::Impl& m_forwarder;
  const DnsMessage m_query;
  const bool m_over_tcp;
  std::function<void(std::optional<DnsMessage>)> m_done;
  udp::socket m_udp;
  tcp::socket m_tcp;
  asio::steady_timer m_timer;
  std::array<uint8_t, 2> m_length{}, m_answer_length{};
  DnsMessage m_answer;
  size_t m_attempt = 0;
  bool m_finished = false, m_abandoned = false;
};

}  // namespace

std::function<void()> ask_resolvers(DnsForwarder::Impl& forwarder, DnsMessage query, bool over_tcp,
                                    std::function<void(std::optional<DnsMessage>)> done) {
  auto asked = std::make_shared<ResolverQuery>(forwarder, std::move(query), over_tcp, std::move(done));
  asked->ask(0);
  return [weak = std::weak_ptr<ResolverQuery>(asked)] {
    if (auto alive = weak.lock()) alive->abandon();
  };
}

}  // namespace corral
