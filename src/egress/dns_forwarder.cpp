// DnsForwarder on Asio: the sessions it serves, their UDP sockets and TCP
// listeners, and the bound on what each has in flight.
#include "corral/egress/dns_forwarder.hpp"

#include "dns_forwarder_impl.hpp"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <future>
#include <spdlog/spdlog.h>

namespace corral {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;
using namespace std::chrono;

namespace {

constexpr auto kAcceptRetry = milliseconds(100);
constexpr auto kStopWait = seconds(5);

// The socket's family, checked to be of `type` (and listening, for TCP).
Result<int> family_of(int fd, int type, const char* what) {
  int actual = 0, listening = 0;
  socklen_t length = sizeof actual;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &actual, &length) != 0 || actual != type)
    return Error::make(EINVAL, std::string("the DNS forwarder needs a ") + what);
  length = sizeof listening;
  if (type == SOCK_STREAM && (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening))
    return Error::make(EINVAL, std::string("the DNS forwarder needs a ") + what);
  sockaddr_storage address{};
  length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return Error::from_errno(errno, "getsockname of the DNS forwarder's socket");
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6)
    return Error::make(EINVAL, std::string("the DNS forwarder needs an IP socket: ") + what);
  return int(address.ss_family);
}

// What crosses the host's side for the session: counted here, and told to
// whoever counts its bytes with its pages'.
void count_bytes(DnsSession& session, uint64_t bytes_in, uint64_t bytes_out) {
  session.tally.bytes_in += bytes_in;
  session.tally.bytes_out += bytes_out;
  if (session.bytes_seen) session.bytes_seen(bytes_in, bytes_out);
}

}  // namespace

bool is_dns_query(std::span<const uint8_t> message) { return message.size() >= 12 && !(message[2] & 0x80); }

DnsCounters DnsTally::snapshot() const {
  return {answered.load(), failed.load(), dropped.load(), in_flight.load(), bytes_out.load(), bytes_in.load()};
}

bool DnsForwarder::Impl::forward(const std::shared_ptr<DnsSession>& session, DnsMessage query, bool over_tcp,
                                 std::function<void(std::optional<DnsMessage>)> answered) {
  if (session->stopped || session->tally.in_flight.load() >= limits.max_in_flight_per_session) {
    session->tally.dropped++;
    return false;
  }
  session->tally.in_flight++;
  count_bytes(*session, 0, query.size());
  // Registered before it is asked: a query that fails at once forgets itself.
  auto id = session->remember(nullptr);
  auto abandon = ask_resolvers(*this, std::move(query), over_tcp,
                               [session, id, answered = std::move(answered)](std::optional<DnsMessage> answer) {
                                 session->closers.erase(id);
                                 // Counted before it leaves in_flight: a reader that
                                 // sees none in flight sees its outcome too.
                                 (answer ? session->tally.answered : session->tally.failed)++;
                                 if (answer) count_bytes(*session, answer->size(), 0);
                                 session->tally.in_flight--;
                                 answered(std::move(answer));
                               });
  if (auto still = session->closers.find(id); still != session->closers.end()) still->second = std::move(abandon);
  return true;
}

void DnsForwarder::Impl::receive_next(const std::shared_ptr<DnsSession>& session) {
  session->udp.async_receive_from(
      asio::buffer(session->datagram), session->asker, [this, session](error_code ec, size_t n) {
        if (ec == asio::error::operation_aborted || session->stopped) return;
        if (!ec) {
          DnsMessage query(session->datagram.begin(), session->datagram.begin() + n);
          if (!is_dns_query(query)) session->tally.dropped++;
          else
            forward(session, std::move(query), false, [session, asker = session->asker](std::optional<DnsMessage> a) {
              if (!a || session->stopped) return;
              auto answer = std::make_shared<DnsMessage>(std::move(*a));
              session->udp.async_send_to(asio::buffer(*answer), asker, [answer](error_code, size_t) {});
            });
        }
        receive_next(session);
      });
}

void DnsForwarder::Impl::accept_next(const std::shared_ptr<DnsSession>& session) {
  session->tcp.async_accept([this, session](error_code ec, tcp::socket asker) {
    if (ec == asio::error::operation_aborted || session->stopped) return;
    if (!ec) {
      serve_tcp_asker(*this, session, std::move(asker));
      return accept_next(session);
    }
    spdlog::warn("session {}: the DNS listener could not accept: {}", session->id, ec.message());
    session->retry.expires_after(kAcceptRetry);
    session->retry.async_wait([this, session](error_code ec) {
      if (!ec) accept_next(session);
    });
  });
}

void DnsForwarder::Impl::close_session(const std::shared_ptr<DnsSession>& session) {
  session->stopped = true;
  error_code ignored;
  session->udp.close(ignored);
  session->tcp.close(ignored);
  session->retry.cancel();
  auto closers = std::move(session->closers);  // each forgets itself from an empty map
  for (auto& [id, close] : closers)
    if (close) close();
}

DnsForwarder::DnsForwarder(std::vector<IpEndpoint> resolvers, DnsLimits limits)
    : m_impl(std::make_unique<Impl>(std::move(resolvers), limits)) {
  m_impl->thread = std::thread([this] { m_impl->io.run(); });
}

DnsForwarder::~DnsForwarder() {
  std::vector<std::string> served;
  {
    std::lock_guard lock(m_impl->mutex);
    for (auto& [id, session] : m_impl->sessions) served.push_back(id);
  }
  for (auto& id : served) (void)stop(id);
  m_impl->io.stop();
  m_impl->thread.join();
}

Result<void> DnsForwarder::serve(const std::string& session_id, UniqueFd udp_fd, UniqueFd tcp_fd,
                                 DnsBytesSeen bytes_seen) {
  CORRAL_TRY_ASSIGN(auto udp_family, family_of(udp_fd.get(), SOCK_DGRAM, "UDP socket"));
  CORRAL_TRY_ASSIGN(auto tcp_family, family_of(tcp_fd.get(), SOCK_STREAM, "listening TCP socket"));
  auto session = std::make_shared<DnsSession>(session_id, m_impl->io);
  session->bytes_seen = std::move(bytes_seen);
  {
    std::lock_guard lock(m_impl->mutex);
    if (m_impl->sessions.count(session_id))
      return Error::make(EEXIST, "session " + session_id + " has a resolver already");
    error_code ec;
    session->udp.assign(udp_family == AF_INET ? udp::v4() : udp::v6(), udp_fd.get(), ec);
    if (!ec) udp_fd.release();
    if (!ec) session->tcp.assign(tcp_family == AF_INET ? tcp::v4() : tcp::v6(), tcp_fd.get(), ec);
    if (ec) return Error::make(EIO, "the DNS sockets of session " + session_id + ": " + ec.message());
    tcp_fd.release();
    m_impl->sessions.emplace(session_id, session);
  }
  asio::post(m_impl->io, [impl = m_impl.get(), session] {
    impl->receive_next(session);
    impl->accept_next(session);
  });
  return success();
}

std::optional<DnsCounters> DnsForwarder::stop(const std::string& session_id) {
  std::shared_ptr<DnsSession> session;
  {
    std::lock_guard lock(m_impl->mutex);
    auto found = m_impl->sessions.find(session_id);
    if (found == m_impl->sessions.end()) return std::nullopt;
    session = std::move(found->second);
    m_impl->sessions.erase(found);
  }
  if (m_impl->io.get_executor().running_in_this_thread()) {
    m_impl->close_session(session);
    return session->tally.snapshot();
  }
  auto closed = std::make_shared<std::promise<void>>();
  auto done = closed->get_future();
  asio::post(m_impl->io, [impl = m_impl.get(), session, closed] {
    impl->close_session(session);
    closed->set_value();
  });
  if (done.wait_for(kStopWait) != std::future_status::ready)
    spdlog::warn("session {}: its DNS sockets took over {} s to close", session_id, kStopWait.count());
  return session->tally.snapshot();
}

std::optional<DnsCounters> DnsForwarder::counters(const std::string& session_id) const {
  std::lock_guard lock(m_impl->mutex);
  auto found = m_impl->sessions.find(session_id);
  if (found == m_impl->sessions.end()) return std::nullopt;
  return found->second->tally.snapshot();
}

bool DnsForwarder::restart_counts(const std::string& session_id) {
  std::lock_guard lock(m_impl->mutex);
  auto found = m_impl->sessions.find(session_id);
  if (found == m_impl->sessions.end()) return false;
  auto& tally = found->second->tally;
  for (auto* count : {&tally.answered, &tally.failed, &tally.dropped, &tally.bytes_out, &tally.bytes_in}) count->store(0);
  return true;
}

const std::vector<IpEndpoint>& DnsForwarder::resolvers() const { return m_impl->resolvers; }

}  // namespace corral
