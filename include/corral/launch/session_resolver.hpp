// A session's resolver in its own network namespace: a UDP socket and a TCP
// listener on the session's 127.0.0.1:53, made inside the namespace and
// served by corrald's DNS forwarder (egress/dns_forwarder.hpp) from the
// host's side; and the session's resolv.conf that names it, bind-mounted
// over /etc/resolv.conf in the session's mount namespace at the gate
// (gated_child.hpp). Opened and closed with the way out (session_way_out.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "corral/egress/dns_forwarder.hpp"
#include "corral/net/session_connector.hpp"

namespace corral {

/// Where the session's resolver answers: glibc's resolver knows no port.
constexpr uint16_t kSessionDnsPort = 53;

/// Write `text` (resolv_conf.hpp's session_resolv_conf) as the session's
/// resolv.conf in its directory `session_dir`, readable by all: the file
/// the gate binds over /etc/resolv.conf. Its path.
Result<std::filesystem::path> write_session_resolv_conf(const std::filesystem::path& session_dir,
                                                       const std::string& text);

/// Served while it lives; closed when it is destroyed or close()d.
class SessionResolver {
 public:
  SessionResolver() = default;
  /// Bind and listen on port 53 in `network` (a session's own) and hand
  /// both sockets to `forwarder` for session `id`; `bytes_seen` hears of
  /// the bytes its queries and answers carry.
  static Result<SessionResolver> open(DnsForwarder& forwarder, const std::string& id, const SessionNetwork& network,
                                      DnsBytesSeen bytes_seen = {});
  SessionResolver(SessionResolver&& other) noexcept { *this = std::move(other); }
  SessionResolver& operator=(SessionResolver&& other) noexcept;
  ~SessionResolver() { close(); }

  /// The counts so far (the last ones once closed); nullopt when there
  /// never was a resolver.
  std::optional<DnsCounters> counters() const;
  /// End it now. Safe to call again.
  void close();

 private:
  DnsForwarder* m_forwarder = nullptr;
  std::string m_id;
  std::optional<DnsCounters> m_last;
};

}  // namespace corral
