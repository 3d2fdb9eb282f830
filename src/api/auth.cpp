#include "corral/api/auth.hpp"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include "corral/api/devtools_paths.hpp"
#include "corral/api/session_json.hpp"

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

bool is_health_check(const HttpRequest& req) {
  return (req.method == "GET" || req.method == "HEAD") && req.path == "/v1/health";
}

// Connect-to-launch and the root /json/version that hands out its URL
// (devtools_launch.cpp): the one place a token may come as ?token=, since
// a WebSocket client (Puppeteer's browserWSEndpoint) cannot always send headers.
bool is_launch_route(const HttpRequest& req) {
  if (req.method != "GET") return false;
  const auto& path = req.path;
  return path == "/json/version" || path == "/json/version/" || path == "/devtools/browser" ||
         path.rfind("/devtools/browser/", 0) == 0;
}

// Routes whose handler checks a credential of its own: a session's
// DevTools (its secret is in the path), and a launch URL's ticket.
bool checks_own_credential(const HttpRequest& req) {
  return req.path.rfind(kDevToolsPrefix, 0) == 0 || (is_launch_route(req) && req.has_param("ticket"));
}

bool reject(const HttpRequest& req, HttpResponse& res, const char* challenge,
                                        const std::string& message) {
  spdlog::debug("401 for {} {} from {}: {}", req.method, loggable_target(req.target), req.remote_addr, message);
  res.status = 401;
  res.set_header("WWW-Authenticate", challenge);
  // A body we answer before reading would be taken for the next request on
  // the same connection; the server closes it instead (and says so).
  if (req.has_body()) res.set_header("Connection", "close");
  res.set_content(error_json("unauthorized", message).dump() + "\n", "application/json");
  return true;
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
  server.add_pre_routing_check([is_session_uid](const HttpRequest& req, HttpResponse& res) {
    auto uid = req.peer_uid();
    if (!uid || !is_session_uid(*uid)) return false;
    spdlog::debug("403 for {} {} from uid {}, a session's", req.method, loggable_target(req.target), *uid);
    res.status = 403;
    res.set_content(error_json("forbidden", "this connection comes from uid " + std::to_string(*uid) +
                                                ", which corral's sessions run as; sessions may not use the API")
                            .dump() +
                        "\n",
                    "application/json");
    return true;
  });
}

namespace {

// A header as the guard must see it: absent, or every value it came with.
std::optional<std::string> header_values(const HttpRequest& req, const char* name) {
  auto [first, end] = req.headers.equal_range(name);
  if (first == end) return std::nullopt;
  std::string joined = first->second;
  for (auto it = std::next(first); it != end; ++it) joined += ", " + it->second;
  return joined;
}

}  // namespace

void guard_requests(HttpServer& server, RequestGuardPolicy policy) {
  server.add_pre_routing_check([policy = std::move(policy)](const HttpRequest& req, HttpResponse& res) {
    auto host = header_values(req, "Host"), origin = header_values(req, "Origin");
    auto content_type = header_values(req, "Content-Type");
    auto refusal = guard_request({host, origin, content_type, req.has_body()}, policy);
    if (!refusal) return false;
    // debug, not info: a hostile page can send such requests without end.
    spdlog::debug("{} for {} {} from {}: {}", refusal->status, req.method, loggable_target(req.target), req.remote_addr,
                  refusal->message);
    res.status = refusal->status;
    if (req.has_body()) res.set_header("Connection", "close");
    res.set_content(error_json(refusal->code, refusal->message).dump() + "\n", "application/json");
    return true;
  });
}

void require_token(HttpServer& server, std::string_view token) {
  server.add_pre_routing_check([check = TokenCheck(token)](const HttpRequest& req, HttpResponse& res) {
    if (is_health_check(req) || checks_own_credential(req)) return false;
    if (is_launch_route(req) && req.has_param("token")) {
      if (check.accepts(req.get_param_value("token"))) return false;
      return reject(req, res, "Bearer realm=\"corral\", error=\"invalid_token\"", "wrong token");
    }
    if (!req.has_header("Authorization"))
      return reject(req, res, "Bearer realm=\"corral\"", "this corrald needs an Authorization: Bearer token");
    const std::string authorization = req.get_header_value("Authorization");  // bearer_token() points into it
    auto presented = bearer_token(authorization);
    if (!presented)
      return reject(req, res, "Bearer realm=\"corral\", error=\"invalid_request\"",
                    "the Authorization header must be 'Bearer <token>'");
    if (!check.accepts(*presented))
      return reject(req, res, "Bearer realm=\"corral\", error=\"invalid_token\"", "wrong token");
    return false;
  });
}

}  // namespace corral
