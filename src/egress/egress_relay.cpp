// EgressRelay on Asio: the sessions it serves and their listeners. One
// strand per listener and one per page connection (egress_connection.cpp).
#include "corral/egress/egress_relay.hpp"

#include "egress_relay_impl.hpp"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <future>
#include <spdlog/spdlog.h>

namespace corral {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono;

namespace {

// After a failed accept (no fd left, say), the listener waits this long
// before the next: a full fd table must not spin a thread.
constexpr auto kAcceptRetry = milliseconds(100);
// stop() waits at most this long for its session's sockets to close.
constexpr auto kStopWait = seconds(5);

// Runs `done` when the last holder lets go: each close posted for a
// session holds one, so `done` runs once all have run (or were dropped
// with the io_context).
struct WhenAllDone {
  std::function<void()> done;
  ~WhenAllDone() {
    if (done) done();
  }
};

// The listening socket's family, checked to be a listening TCP socket.
Result<tcp> listening_protocol(int fd) {
  int listening = 0;
  socklen_t length = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening)
    return Error::make(EINVAL, "the egress relay needs a listening TCP socket");
  sockaddr_storage address{};
  length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return Error::from_errno(errno, "getsockname of the egress listener");
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6)
    return Error::make(EINVAL, "the egress relay needs a TCP socket (IPv4 or IPv6)");
  return address.ss_family == AF_INET ? tcp::v4() : tcp::v6();
}

}  // namespace

EgressCounters EgressTally::snapshot() const {
  EgressCounters counters;
  counters.connections = connections.load();
  for (size_t i = 0; i < kEgressReasons; ++i) counters.refused[i] = refused[i].load();
  counters.unreachable = unreachable.load();
  counters.unsupported = unsupported.load();
  counters.bad_handshake = bad_handshake.load();
  counters.over_limit = over_limit.load();
  counters.proxy_refused = proxy_refused.load();
  counters.proxy_failed = proxy_failed.load();
  counters.bytes_out = bytes_out.load();
  counters.bytes_in = bytes_in.load();
  counters.open = open.load();
  return counters;
}

void ServedSession::forget(uint64_t connection) {
  std::lock_guard lock(mutex);
  if (connections.erase(connection)) tally.open.fetch_sub(1);
}

void EgressRelay::Impl::accept_next(const std::shared_ptr<ServedSession>& session) {
  auto strand = asio::make_strand(io);
  session->acceptor.async_accept(strand, [this, session, strand](error_code ec, tcp::socket page) {
    if (ec == asio::error::operation_aborted || !session->acceptor.is_open()) return;
    if (!ec) {
      accepted(session, strand, std::move(page));
      return accept_next(session);
    }
    spdlog::warn("session {}: the egress listener could not accept: {}", session->id, ec.message());
    session->retry.expires_after(kAcceptRetry);
    session->retry.async_wait([this, session](error_code ec) {
      if (!ec) accept_next(session);
    });
  });
}

// Registered under the session's lock, so that a stop() that runs
// meanwhile either refuses it here or finds it to close.
void EgressRelay::Impl::accepted(const std::shared_ptr<ServedSession>& session, EgressStrand strand,
                                 tcp::socket page) {
  std::shared_ptr<EgressConnection> connection;
  {
    std::lock_guard lock(session->mutex);
    if (session->stopped) return;  // the page's socket closes here
    if (session->connections.size() >= limits.max_connections_per_session) {
      session->tally.over_limit.fetch_add(1);
      return;
    }
    uint64_t id = session->next_connection++;
    connection = make_egress_connection(*this, session, id, strand, std::move(page));
    session->connections.emplace(id, connection);
    session->tally.open.fetch_add(1);
  }
  start_egress_connection(connection);
}

void EgressRelay::Impl::close_session(const std::shared_ptr<ServedSession>& session,
                                      std::function<void()> done) const {
  auto all = std::make_shared<WhenAllDone>(std::move(done));
  std::vector<std::shared_ptr<EgressConnection>> live;
  {
    std::lock_guard lock(session->mutex);
    session->stopped = true;
    for (auto& [id, connection] : session->connections)
      if (auto alive = connection.lock()) live.push_back(std::move(alive));
  }
  asio::post(session->strand, [session, all] {
    error_code ignored;
    session->acceptor.close(ignored);
    session->retry.cancel();
  });
  for (auto& connection : live) close_egress_connection(connection, [all] {});
}

EgressRelay::EgressRelay(EgressPolicy policy, EgressLimits limits, size_t threads)
    : m_impl(std::make_unique<Impl>(std::move(policy), limits)) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) m_impl->threads.emplace_back([this] { m_impl->io.run(); });
}

EgressRelay::~EgressRelay() {
  std::vector<std::string> served;
  {
    std::lock_guard lock(m_impl->mutex);
    for (auto& [id, session] : m_impl->sessions) served.push_back(id);
  }
  for (auto& id : served) (void)stop(id);
  m_impl->io.stop();  // what is left (a resolver's answer on its way) is dropped with the io_context
  for (auto& thread : m_impl->threads) thread.join();
}

Result<void> EgressRelay::serve(const std::string& session_id, UniqueFd listening_fd, EgressSession settings) {
  CORRAL_TRY_ASSIGN(auto protocol, listening_protocol(listening_fd.get()));
  auto session = std::make_shared<ServedSession>(session_id, std::move(settings), asio::make_strand(m_impl->io));
  {
    std::lock_guard lock(m_impl->mutex);
    if (m_impl->sessions.count(session_id))
      return Error::make(EEXIST, "session " + session_id + " has a way out already");
    error_code ec;
    session->acceptor.assign(protocol, listening_fd.get(), ec);
    if (ec) return Error::make(EIO, "the egress listener of session " + session_id + ": " + ec.message());
    listening_fd.release();
    m_impl->sessions.emplace(session_id, session);
  }
  asio::post(session->strand, [impl = m_impl.get(), session] { impl->accept_next(session); });
  return success();
}

std::optional<EgressCounters> EgressRelay::stop(const std::string& session_id) {
  std::shared_ptr<ServedSession> session;
  {
    std::lock_guard lock(m_impl->mutex);
    auto found = m_impl->sessions.find(session_id);
    if (found == m_impl->sessions.end()) return std::nullopt;
    session = std::move(found->second);
    m_impl->sessions.erase(found);
  }
  auto closed = std::make_shared<std::promise<void>>();
  auto all_closed = closed->get_future();
  m_impl->close_session(session, [closed] { closed->set_value(); });
  // On a relay thread, waiting could wait for this very thread.
  if (!m_impl->io.get_executor().running_in_this_thread() && all_closed.wait_for(kStopWait) != std::future_status::ready)
    spdlog::warn("session {}: its egress connections took over {} s to close", session_id, kStopWait.count());
  return session->tally.snapshot();
}

const EgressPolicy& EgressRelay::policy() const { return m_impl->policy; }
EgressPolicy& EgressRelay::policy() { return m_impl->policy; }

std::shared_ptr<ServedSession> EgressRelay::Impl::served(const std::string& id) const {
  std::lock_guard lock(mutex);
  auto found = sessions.find(id);
  return found == sessions.end() ? nullptr : found->second;
}

std::optional<EgressCounters> EgressRelay::counters(const std::string& session_id) const {
  auto session = m_impl->served(session_id);
  if (!session) return std::nullopt;
  return session->tally.snapshot();
}

bool EgressRelay::restart_counts(const std::string& session_id) {
  auto session = m_impl->served(session_id);
  if (!session) return false;
  session->tally.restart();
  return true;
}

std::vector<std::pair<std::string, EgressLists>> EgressRelay::named_narrowings() const {
  std::vector<std::pair<std::string, EgressLists>> named;
  std::lock_guard lock(m_impl->mutex);
  for (const auto& [id, session] : m_impl->sessions)
    if (auto lists = session->lists(); lists->destinations.has_names()) named.emplace_back(id, lists->destinations);
  return named;
}

bool EgressRelay::renarrow(const std::string& session_id, EgressLists lists) {
  auto session = m_impl->served(session_id);
  if (!session) return false;
  session->narrow(std::move(lists));
  return true;
}

}  // namespace corral
