#include "corral/proxy/session_upstream.hpp"

#include "corral/proxy/session_port.hpp"

namespace corral {

UpstreamPort UpstreamPort::of(const SessionInfo& session, uint16_t port) {
  return {session.id, session.scope.cgroup.string(), session.uid, session.network, port};
}

UpstreamPort UpstreamPort::at(uint16_t other_port) const {
  auto other = *this;
  other.port = other_port;
  return other;
}

std::function<Result<void>()> UpstreamPort::ownership_check() const {
  // Only the session's own processes are in its network namespace (entered
  // at its gate, before exec), so whatever listens there is the session's.
  // sock_diag, asked from corrald's namespace, would not even see it.
  if (network.own()) return [] { return success(); };
  return [port = port, cgroup = cgroup, uid = uid] { return check_session_port(port, Cgroup(cgroup), uid); };
}

SessionUpstream::SessionUpstream(SessionManager& sessions, RelayBudget& relays)
    : m_sessions(sessions), m_relays(relays) {
  // Relays of a session that starts to close end now: the client sees it at
  // once, not at its next command. (close_group only posts: safe under the
  // manager's lock.)
  m_closing_listener = m_sessions.add_closing_listener([this](const std::string& id) { m_hub.close_group(id); });
}

SessionUpstream::~SessionUpstream() { m_sessions.remove_closing_listener(m_closing_listener); }

void SessionUpstream::relay(TakenConnection taken, RelayBudget::Slot slot, const UpstreamPort& to, std::string head,
                            FailureAnswer failure, std::function<void()> on_end) {
  RelayHub::Plan plan;
  plan.held = {std::move(taken.counted), std::move(slot)};
  plan.idle_timeout = m_relays.limits().idle_timeout;
  plan.client = std::move(taken.socket);
  plan.group = to.session_id;
  plan.upstream_network = to.network;
  plan.upstream_port = to.port;
  plan.check_upstream = to.ownership_check();
  plan.to_upstream = std::move(head) + taken.buffered;
  plan.failure_answer = std::move(failure);
  plan.on_end = std::move(on_end);
  m_hub.start(std::move(plan));
}

void SessionUpstream::fetch(const UpstreamPort& to, std::string request,
                            std::function<void(Result<RelayHub::Fetched>)> done) {
  m_hub.fetch(to.network, to.port, to.ownership_check(), std::move(request), std::move(done));
}

void SessionUpstream::forward(const UpstreamPort& to, std::string request, std::chrono::milliseconds timeout,
                              size_t max_answer, std::function<void(Result<RelayHub::Fetched>)> done) {
  m_hub.forward(to.network, to.port, to.ownership_check(), std::move(request), timeout, max_answer, std::move(done));
}

void SessionUpstream::exchange(const UpstreamPort& to, std::string request, std::chrono::milliseconds timeout,
                               size_t max_answer, std::function<void(Result<RelayHub::Fetched>)> done) {
  m_hub.exchange(to.session_id, to.network, to.port, to.ownership_check(), std::move(request), timeout, max_answer,
                 std::move(done));
}

void SessionUpstream::reply_and_close(TakenConnection taken, std::string answer) {
  m_hub.reply_and_close(std::move(taken.socket), std::move(answer), std::move(taken.counted));
}

}  // namespace corral
