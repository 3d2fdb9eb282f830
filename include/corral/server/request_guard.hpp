// RequestGuard: the line Chrome's DevTools and chromedriver hold against web
// pages, held by corral for every request it serves or proxies.
//
// A page in any browser on a host that can reach corral can make that
// browser send requests to corral: cross-site fetches and form posts, or
// same-origin ones after DNS rebinding (evil.example resolving to corral's
// address). Such requests carry the page's name in Host, an Origin header,
// or, for a "simple" cross-site POST that needs no CORS preflight, a
// Content-Type other than application/json. API, WebDriver and DevTools
// clients send a Host that is an IP address or a name the operator knows,
// no Origin, and JSON bodies as JSON. corral rewrites Host and drops Origin
// when it proxies to a browser, so the browser's own checks no longer see
// them: this guard must refuse such requests first.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

/// What the operator allows beyond the defaults.
struct RequestGuardPolicy {
  /// --allow-host: host names accepted in Host besides IP literals and
  /// localhost; lower case, without a port.
  std::vector<std::string> allowed_hosts;
  /// --allow-origin: origins (scheme://host[:port]) whose requests are
  /// served; lower case. Any other Origin is refused.
  std::vector<std::string> allowed_origins;
  /// --public-url's origin (scheme://host[:port], lower case): where a
  /// proxy in front serves corral, and with it the console (/ui/).
  std::optional<std::string> public_origin;
  /// False for a unix-socket listener: no web page can reach one, and its
  /// clients put what they like in Host (the socket's path, say).
  bool check_host = true;
};

/// The parts of a request the guard looks at. A header that came more than
/// once is given joined by ", " (as HTTP folds it), which never passes.
struct GuardedRequest {
  std::optional<std::string_view> host;
  std::optional<std::string_view> origin;
  std::optional<std::string_view> content_type;
  bool has_body = false;  ///< a Content-Length above 0, or any Transfer-Encoding
};

struct GuardRefusal {
  int status;        ///< 403 or 415
  const char* code;  ///< the JSON error code
  std::string message;
};

/// Why the request must be refused, or nullopt to serve it. Besides the
/// allowed origins, an Origin is admitted that is the request's own
/// "http://" + Host, once that Host has passed (corrald speaks plain HTTP;
/// TLS is a proxy's, named by --public-url): the console's page at /ui/ on
/// this very address. Browsers send Origin on every POST, DELETE and
/// WebSocket; a page elsewhere has another origin, and a page that DNS
/// rebinding brings to corral's address has a Host the guard refuses.
std::optional<GuardRefusal> guard_request(const GuardedRequest& request, const RequestGuardPolicy& policy);

/// The host of a Host header value ("name", "name:port", "[v6]:port"), in
/// lower case, without port or brackets; nullopt when the value is not of
/// that shape.
std::optional<std::string> host_of(std::string_view host_header);

/// True for a dotted-quad IPv4 address or an IPv6 address (without brackets).
bool is_ip_literal(std::string_view host);

/// Check and normalise an --allow-host value: a DNS name (letters, digits,
/// '-' and '.'), returned in lower case.
Result<std::string> parse_allowed_host(std::string_view name);

/// Check and normalise an --allow-origin value: scheme "http" or "https",
/// "://", a host (name or IP literal, IPv6 in brackets), an optional port,
/// nothing after; returned in lower case without a trailing '/'.
Result<std::string> parse_allowed_origin(std::string_view origin);

}  // namespace corral
