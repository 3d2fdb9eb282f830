#include "corral/launch/session_way_out.hpp"

namespace corral {

std::vector<std::string> way_out_flags() {
  return {"--proxy-server=socks5://127.0.0.1:" + std::to_string(kWayOutPort), "--proxy-bypass-list=<-loopback>"};
}

Result<SessionWayOut> SessionWayOut::open(EgressRelay& relay, const std::string& id, const SessionNetwork& network,
                                          EgressSession settings) {
  CORRAL_TRY_ASSIGN(auto listener, listen_in_session(network, kWayOutPort));
  CORRAL_TRY(relay.serve(id, std::move(listener), std::move(settings)));
  SessionWayOut way_out;
  way_out.m_relay = &relay;
  way_out.m_id = id;
  return way_out;
}

SessionWayOut& SessionWayOut::operator=(SessionWayOut&& other) noexcept {
  if (this == &other) return *this;
  close();
  m_relay = other.m_relay;
  m_id = std::move(other.m_id);
  m_last = std::move(other.m_last);
  other.m_relay = nullptr;
  return *this;
}

std::optional<EgressCounters> SessionWayOut::counters() const {
  return m_relay ? m_relay->counters(m_id) : m_last;
}

Result<void> SessionWayOut::cap(uint64_t max_bytes, std::function<void()> over_cap) {
  if (!m_relay) return Error::make(ENOENT, "the session has no way out open");
  return m_relay->cap(m_id, max_bytes, std::move(over_cap));
}

void SessionWayOut::close() {
  if (!m_relay) return;
  m_last = m_relay->stop(m_id);
  m_relay = nullptr;
}

}  // namespace corral
