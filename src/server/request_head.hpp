// Private to the server: what it decides about a request once its head is
// read, before routing, in plain types (http_connection.cpp turns Beast's
// parsed head into an HttpRequest first).
#pragma once

#include <vector>

#include "corral/server/http_server.hpp"

namespace corral::http_detail {

/// A JSON error answer: {"error":{"code","message"}}.
HttpResponse error_response(int status, const char* code, const std::string& message);

/// Split the target into path and params, and refuse (400, in `refusal`)
/// what the API never takes: an HTTP version other than 1.0 and 1.1, a
/// method outside HTTP's own (`known_method`: Beast knows it), a target
/// that is not a path, header bytes that are not allowed, framing in doubt
/// (request_framing.hpp). True if the request may go on.
bool accept_head(HttpRequest& request, unsigned version, bool known_method, HttpResponse& refusal);

/// True if the request asks to become a WebSocket (Upgrade: websocket).
/// Only a head route can take that; any other upgrade is ignored and the
/// request answered as HTTP/1.1 (RFC 9110, 7.8).
bool wants_websocket(const HttpRequest& request);

/// Run the pre-routing checks in order; true if one answered.
bool refused_by_checks(const HttpRequest& request, const std::vector<PreRoutingCheck>& checks,
                       HttpResponse& refusal);

/// Connection: close, or keep-alive with the Keep-Alive header that says
/// how long the server waits for the next request.
void set_connection_headers(HttpResponse& response, bool close, const ConnectionLimits& limits);

/// Run a plain handler; an exception becomes a JSON 500.
HttpResponse call_plain(const PlainHandler& handler, const HttpRequest& request);

}  // namespace corral::http_detail
