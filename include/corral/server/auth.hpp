// Who may use the HTTP API: the checks a request passes once its head is
// read and it is routed, before its body. Each check takes the route's
// declared rules (router.hpp: Access, ErrorShape) and knows no paths; its
// refusals take the route's error shape.
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

/// Make every request need the token but on routes declared Access::open
/// (health) or Access::session_secret (their handler checks the session's
/// own secret); a request no route takes needs it too. The token comes as
/// "Authorization: Bearer"; as Basic auth's password on token_or_basic
/// routes; as ?token= on a GET of token_in_query and launch_ticket routes;
/// and a GET of a launch_ticket route may bring one ?ticket= instead,
/// which its handler redeems. Credentials in the query count only under
/// their literal names: a percent-encoded "token" or "ticket" is 400
/// bad_request. A 401 is {"error":{"code":"unauthorized",...}} (or the
/// route's shape) with WWW-Authenticate, and closes the connection when
/// the request had a body.
void require_token(HttpServer& server, std::string_view token);

/// For a corrald without a token: over TCP, serve only the local callers
/// `callers` admits (by the peer's uid); everyone else gets 403 forbidden
/// but on Access::open and Access::session_secret routes. A unix
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
