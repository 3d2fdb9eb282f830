// UpstreamProxy: a session's own proxy, through which its way out carries
// every connection a page makes ("proxy" in POST /v1/sessions,
// corral:options and the launch query; docs/network.md, "A proxy per
// session"). Chrome keeps corral's SOCKS5 relay as its only proxy and
// never learns the proxy or its credential: the relay, in corrald, speaks
// to the proxy (upstream_dialogue.hpp).
//
// The credential is a secret of the customer's: it is never written out
// whole. redacted() is the only form logs, errors, the session JSON and
// the state file get; parse errors never quote the URL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "corral/util/error.hpp"

namespace corral {

struct UpstreamProxy {
  enum class Scheme : uint8_t { http, socks5 };
  Scheme scheme = Scheme::http;
  std::string host;  ///< a name or a literal address (IPv6 without brackets)
  uint16_t port = 0;
  std::string username;  ///< empty with the password: no credential
  std::string password;

  bool has_credential() const { return !username.empty() || !password.empty(); }
  /// "http://user:***@host:port": the password never appears.
  std::string redacted() const;
  /// The URL whole, credential included: for the kernel key that keeps it
  /// over corrald's restart (proxy_keys.hpp), nowhere else.
  std::string url() const;
  /// host:port as a request line or log names it ("[2001:db8::1]:3128").
  std::string authority() const;
  bool operator==(const UpstreamProxy&) const = default;
};

const char* upstream_proxy_scheme_name(UpstreamProxy::Scheme scheme);

/// "http://[user[:password]@]host:port" or "socks5://...", an optional
/// trailing "/"; user and password may be percent-encoded. EINVAL, with a
/// message that never quotes the URL (it may hold a password), for
/// anything else: another scheme, no port, a path, a query, control
/// characters, a user or password over 255 bytes (SOCKS5's limit).
Result<UpstreamProxy> parse_upstream_proxy(std::string_view url);

/// RFC 4648 base64, for Proxy-Authorization: Basic.
std::string base64_encode(std::string_view bytes);

}  // namespace corral
