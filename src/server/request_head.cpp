#include "request_head.hpp"

#include <spdlog/spdlog.h>

#include <set>

#include "corral/server/request_framing.hpp"
#include "corral/server/error_body.hpp"

namespace corral::http_detail {

namespace {

// The methods of HTTP itself (RFC 9110, 9.3, and PATCH); WebDAV's and the
// rest, which Beast also knows, are refused like unknown ones.
bool http_method(const std::string& method) {
  static const std::set<std::string> kMethods = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                 "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  return kMethods.count(method) > 0;
}

bool refuse(HttpResponse& refusal, const std::string& message) {
  refusal = error_response(400, "bad_request", message);
  return false;
}

}  // namespace

bool accept_head(HttpRequest& request, unsigned version, bool known_method, HttpResponse& refusal) {
  if (version != 10 && version != 11) return refuse(refusal, "only HTTP/1.0 and HTTP/1.1 are served");
  if (!known_method || !http_method(request.method)) return refuse(refusal, "unknown method");
  if (!parse_target(request.target, request.path, request.params))
    return refuse(refusal, "the request target must be a path");
  auto problem = header_byte_problem(request.headers);
  if (!problem) problem = framing_problem(request.headers);
  if (problem) return refuse(refusal, *problem);
  return true;
}

bool refused_by_checks(const HttpRequest& request, const RouteRules& rules, const std::vector<RequestCheck>& checks,
                       HttpResponse& refusal) {
  for (const auto& check : checks)
    if (check(request, rules, refusal)) return true;
  return false;
}

void set_connection_headers(HttpResponse& response, bool close, const ConnectionLimits& limits) {
  response.set_header("Connection", close ? "close" : "keep-alive");
  if (close) return;
  // No max=: the connection is bounded by its lifetime, not a count.
  response.set_header("Keep-Alive", "timeout=" + std::to_string(limits.keep_alive_idle.count() / 1000));
}

HttpResponse call_plain(const PlainHandler& handler, const HttpRequest& request) {
  HttpResponse response;
  try {
    handler(request, response);
  } catch (const std::exception& e) {
    spdlog::error("request handler failed: {}", e.what());
    response = error_response(500, "internal", e.what());
  }
  return response;
}

}  // namespace corral::http_detail
