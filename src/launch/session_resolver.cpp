#include "corral/launch/session_resolver.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral {

Result<std::filesystem::path> write_session_resolv_conf(const std::filesystem::path& session_dir,
                                                       const std::string& text) {
  auto path = session_dir / "resolv.conf";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Error::from_errno(errno, "create " + path.string());
  // The umask must not make it unreadable to the session's uid.
  if (::fchmod(fd.get(), 0644) < 0) return Error::from_errno(errno, "chmod " + path.string());
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return Error::from_errno(errno, "write " + path.string());
  return path;
}

Result<SessionResolver> SessionResolver::open(DnsForwarder& forwarder, const std::string& id,
                                              const SessionNetwork& network, DnsBytesSeen bytes_seen) {
  CORRAL_TRY_ASSIGN(auto udp, bound_in_session(network, kSessionDnsPort));
  CORRAL_TRY_ASSIGN(auto tcp, listen_in_session(network, kSessionDnsPort));
  CORRAL_TRY(forwarder.serve(id, std::move(udp), std::move(tcp), std::move(bytes_seen)));
  SessionResolver resolver;
  resolver.m_forwarder = &forwarder;
  resolver.m_id = id;
  return resolver;
}

SessionResolver& SessionResolver::operator=(SessionResolver&& other) noexcept {
  if (this == &other) return *this;
  close();
  m_forwarder = other.m_forwarder;
  m_id = std::move(other.m_id);
  m_last = std::move(other.m_last);
  other.m_forwarder = nullptr;
  return *this;
}

std::optional<DnsCounters> SessionResolver::counters() const {
  return m_forwarder ? m_forwarder->counters(m_id) : m_last;
}

void SessionResolver::close() {
  if (!m_forwarder) return;
  m_last = m_forwarder->stop(m_id);
  m_forwarder = nullptr;
}

}  // namespace corral
