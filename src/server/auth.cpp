#include "corral/server/auth.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include "corral/server/loggable_target.hpp"

namespace corral {

namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest sha256(std::string_view text) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

std::string_view as_view(const Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

// Routes that take no token: their handler checks a credential of the
// session's own (its secret is in the path), or they are health checks.
bool takes_no_token(const RouteRules& rules) {
  return rules.access == Access::open || rules.access == Access::session_secret;
}

// A credential in the query is taken on a GET only: a WebSocket client (a
// launch URL's) cannot always send headers, but everything else can.
bool takes_token_in_query(const HttpRequest& req, const RouteRules& rules) {
  return req.method == "GET" && (rules.access == Access::token_in_query || rules.access == Access::launch_ticket);
}

// A credential may come in the query under its literal name only. One
// written otherwise ("%74oken=") is refused outright: what decodes to a
// token must never pass as something else, or slip past a log's redaction
// or a proxy's rule that match the name as written.
bool credential_name_disguised(const HttpRequest& req, const char* name) {
  return req.params.count(name) != literal_param_values(req.target, name).size();
}

// The refusal in the shape the route declared (W3C's on WebDriver routes,
// so Selenium raises an exception that says what happened). A body we
// answer before reading would be taken for the next request on the same
// connection; the server closes it instead (and says so).
void refuse(const HttpRequest& req, const RouteRules& rules, HttpResponse& res, int status, const std::string& code,
            const std::string& message) {
  res = rules.refusal(status, code, message);
  if (req.has_body()) res.set_header("Connection", "close");
}

bool reject(const HttpRequest& req, const RouteRules& rules, HttpResponse& res, const char* challenge,
            const std::string& message) {
  spdlog::debug("401 for {} {} from {}: {}", req.method, loggable_target(req.target), req.remote_addr, message);
  refuse(req, rules, res, 401, "unauthorized", message);
  res.set_header("WWW-Authenticate", challenge);
  return true;
}

// The password of "Basic base64(user:password)": Selenium sends the token
// that way from a remote URL http://user:TOKEN@host:port.
std::optional<std::string> basic_password(std::string_view authorization) {
  constexpr std::string_view kScheme = "basic ";
  if (authorization.size() <= kScheme.size() || strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0)
    return std::nullopt;
  auto encoded = std::string(authorization.substr(kScheme.size()));
  while (!encoded.empty() && encoded.back() == ' ') encoded.pop_back();
  if (encoded.empty() || encoded.size() > 4096 || encoded.size() % 4 != 0) return std::nullopt;
  std::string decoded(encoded.size() / 4 * 3, '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                               reinterpret_cast<const unsigned char*>(encoded.data()), static_cast<int>(encoded.size()));
  if (length < 0) return std::nullopt;
  decoded.resize(static_cast<size_t>(length));
  while (encoded.ends_with('=')) encoded.pop_back(), decoded.pop_back();  // EVP_DecodeBlock keeps the padding's zeros
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return decoded.substr(colon + 1);
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte position up to the longer length is visited and the
  // differences are OR-ed together: no branch depends on the bytes.
  unsigned difference = a.size() == b.size() ? 0 : 1;
  size_t longest = std::max(a.size(), b.size());
  for (size_t i = 0; i < longest; ++i) {
    auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    difference |= static_cast<unsigned>(x ^ y);
  }
  return difference == 0;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || authorization[kScheme.size()] != ' ' ||
      strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0)
    return std::nullopt;
  auto token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  return token;
}

TokenCheck::TokenCheck(std::string_view token) : m_digest(sha256(token)) {}

bool TokenCheck::accepts(std::string_view presented) const {
  return constant_time_equal(as_view(sha256(presented)), as_view(m_digest));
}

void refuse_session_uids(HttpServer& server, std::function<bool(uid_t)> is_session_uid) {
  server.add_request_check([is_session_uid](const HttpRequest& req, const RouteRules& rules, HttpResponse& res) {
    auto uid = req.peer_uid();
    if (!uid || !is_session_uid(*uid)) return false;
    spdlog::debug("403 for {} {} from uid {}, a session's", req.method, loggable_target(req.target), *uid);
    refuse(req, rules, res, 403, "forbidden",
           "this connection comes from uid " + std::to_string(*uid) +
               ", which corral's sessions run as; sessions may not use the API");
    return true;
  });
}

void serve_without_token_only_to(HttpServer& server, std::shared_ptr<TokenlessCallers> callers) {
  server.add_request_check([callers](const HttpRequest& req, const RouteRules& rules, HttpResponse& res) {
    // A unix socket's mode says who connects; health and a session's own
    // secret-bearing routes are open as they are with a token.
    if (req.unix_listener || takes_no_token(rules)) return false;
    auto uid = req.peer_uid();
    if (uid && callers->admits(*uid)) return false;
    std::string who = uid ? "uid " + std::to_string(*uid) : std::string("a peer whose uid the kernel does not name");
    spdlog::debug("403 for {} {} from {}, not a tokenless caller", req.method, loggable_target(req.target), who);
    refuse(req, rules, res, 403, "forbidden",
           "this corrald has no API token, so over TCP it serves only " + callers->describe() +
               "; this connection is " + who + ". Ask for membership of group " + kClientGroup +
               ", or run corrald with --token-file and send the token");
    return true;
  });
}

namespace {

// The token in the query, or a launch URL's ticket, where the route takes
// one: nullopt if the query does not settle the request; else whether it
// is refused (with a 401 in `res`).
std::optional<bool> settled_by_query(const HttpRequest& req, const RouteRules& rules, const TokenCheck& check,
                                     HttpResponse& res) {
  if (!takes_token_in_query(req, rules)) return std::nullopt;
  auto tokens = literal_param_values(req.target, "token");
  // A launch URL's ticket: corral minted it, and the route redeems it once.
  if (rules.access == Access::launch_ticket && tokens.empty() && literal_param_values(req.target, "ticket").size() == 1)
    return false;
  if (tokens.empty()) return std::nullopt;
  if (tokens.size() == 1 && check.accepts(tokens.front())) return false;
  return reject(req, rules, res, "Bearer realm=\"corral\", error=\"invalid_token\"", "wrong token");
}

// The Authorization header: Bearer, or where the route takes it Basic.
bool refused_by_header(const HttpRequest& req, const RouteRules& rules, const TokenCheck& check, HttpResponse& res) {
  if (!req.has_header("Authorization"))
    return reject(req, rules, res, "Bearer realm=\"corral\"", "this corrald needs an Authorization: Bearer token");
  const std::string authorization = req.get_header_value("Authorization");  // bearer_token() points into it
  if (rules.access == Access::token_or_basic)
    if (auto password = basic_password(authorization)) {
      if (check.accepts(*password)) return false;
      return reject(req, rules, res, "Basic realm=\"corral\"", "wrong token (given as the password of Basic auth)");
    }
  auto presented = bearer_token(authorization);
  if (!presented)
    return reject(req, rules, res, "Bearer realm=\"corral\", error=\"invalid_request\"",
                  "the Authorization header must be 'Bearer <token>'");
  if (!check.accepts(*presented))
    return reject(req, rules, res, "Bearer realm=\"corral\", error=\"invalid_token\"", "wrong token");
  return false;
}

}  // namespace

void guard_requests(HttpServer& server, RequestGuardPolicy policy) {
  server.add_request_check([policy = std::move(policy)](const HttpRequest& req, const RouteRules& rules,
                                                        HttpResponse& res) {
    // As the guard must see them: absent, or every value each came with.
    auto host = header_values(req.headers, "Host"), origin = header_values(req.headers, "Origin");
    auto content_type = header_values(req.headers, "Content-Type");
    auto refusal = guard_request({host, origin, content_type, req.has_body()}, policy);
    if (!refusal) return false;
    // debug, not info: a hostile page can send such requests without end.
    spdlog::debug("{} for {} {} from {}: {}", refusal->status, req.method, loggable_target(req.target), req.remote_addr,
                  refusal->message);
    refuse(req, rules, res, refusal->status, refusal->code, refusal->message);
    return true;
  });
}

void require_token(HttpServer& server, std::string_view token) {
  server.add_request_check([check = TokenCheck(token)](const HttpRequest& req, const RouteRules& rules,
                                                       HttpResponse& res) {
    if (takes_no_token(rules)) return false;
    if (credential_name_disguised(req, "token") || credential_name_disguised(req, "ticket")) {
      refuse(req, rules, res, 400, "bad_request",
             "'token' and 'ticket' are taken in the query only as written, not percent-encoded");
      return true;
    }
    if (auto refused = settled_by_query(req, rules, check, res)) return *refused;
    return refused_by_header(req, rules, check, res);
  });
}

}  // namespace corral
