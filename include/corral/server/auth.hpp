// Bearer-token authentication of the HTTP API. With a token configured,
// every request except GET /v1/health must carry
// "Authorization: Bearer <token>"; any other gets 401 unauthorized.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "corral/server/http_server.hpp"
#include "corral/server/request_guard.hpp"
#include "corral/server/tokenless_callers.hpp"

namespace corral {

/// True if a and b hold the same bytes. The time taken depends on the two
/// lengths only, never on where the first differing byte is.
bool constant_time_equal(std::string_view a, std::string_view b);

/// The token of an Authorization header value "Bearer <token>" (the scheme
/// is case-insensitive, RFC 7235). nullopt for another scheme (Basic, ...),
/// a missing token, or a token with spaces in it.
std::optional<std::string_view> bearer_token(std::string_view authorization);

/// Tells the configured token from any other. It keeps only the token's
/// SHA-256 and compares digests in constant time, so how long a check takes
/// says nothing about the token, not even its length.
class TokenCheck {
 public:
  explicit TokenCheck(std::string_view token);
  bool accepts(std::string_view presented) const;

 private:
  std::array<unsigned char, 32> m_digest{};
};

/// Make every request but GET/HEAD /v1/health need the token, but for two
/// kinds that bring a credential of their own, checked by their handlers: a
/// session's DevTools under /cdp/<id>/<secret> (and WebDriver's se:cdp and
/// se:bidi relays), and the launch WebSocket /devtools/browser with the
/// ?ticket= that GET /json/version handed out (that route always needs the
/// token itself). Connect-to-launch also takes the token as ?token= (a
/// check before routing, so a rejected request's body is never read).
/// Credentials in the query count only under their literal names: a
/// percent-encoded "token" or "ticket" is 400 bad_request. A 401 is
/// {"error":{"code":"unauthorized",...}} with WWW-Authenticate: Bearer,
/// and closes the connection when the request had a body.
void require_token(HttpServer& server, std::string_view token);

/// For a corrald without a token: over TCP, serve only the local callers
/// `callers` admits (by the peer's uid); everyone else gets 403 forbidden
/// but for GET /v1/health and a session's secret-bearing routes. A unix
/// socket is left to its mode.
void serve_without_token_only_to(HttpServer& server, std::shared_ptr<TokenlessCallers> callers);

/// Refuse every request (403 forbidden, GET /v1/health included) from a
/// peer whose uid `is_session_uid` names: a session's browser must not
/// drive corral, with a token or without one.
void refuse_session_uids(HttpServer& server, std::function<bool(uid_t)> is_session_uid);

/// Refuse, on every route, requests that RequestGuard says a web page may
/// have sent (403), and bodies that are not JSON (415); before the token, so
/// that such a request learns nothing about it.
void guard_requests(HttpServer& server, RequestGuardPolicy policy);

}  // namespace corral
