// Private to the server: what it decides about a request once its head is
// read, before its body, in plain types (http_connection.cpp turns Beast's
// parsed head into an HttpRequest first).
#pragma once

#include <vector>

#include "corral/server/error_body.hpp"
#include "corral/server/http_server.hpp"

namespace corral::http_detail {

/// Split the target into path and params, and refuse (400, in `refusal`)
/// what the API never takes: an HTTP version other than 1.0 and 1.1, a
/// method outside HTTP's own (`known_method`: Beast knows it), a target
/// that is not a path, header bytes that are not allowed, framing in doubt
/// (request_framing.hpp). True if the request may go on.
bool accept_head(HttpRequest& request, unsigned version, bool known_method, HttpResponse& refusal);

/// Run the request checks in order, with the route's rules; true if one answered.
bool refused_by_checks(const HttpRequest& request, const RouteRules& rules, const std::vector<RequestCheck>& checks,
                       HttpResponse& refusal);

/// Connection: close, or keep-alive with the Keep-Alive header that says
/// how long the server waits for the next request.
void set_connection_headers(HttpResponse& response, bool close, const ConnectionLimits& limits);

/// Run a plain handler; an exception becomes a JSON 500.
HttpResponse call_plain(const PlainHandler& handler, const HttpRequest& request);

}  // namespace corral::http_detail
