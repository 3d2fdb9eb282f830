// The HTTP API (/v1/...): a thin layer that parses a request, makes one
// SessionManager call and maps the Result to a status and a JSON body.
// Every error, including the ones the server produces itself (404, 413,
// ...), is {"error":{"code","message"}}.
#pragma once

#include "corral/server/connection_limits.hpp"
#include "corral/api/public_address.hpp"
#include "corral/server/http_server.hpp"
#include "corral/session/manager.hpp"

namespace corral {

/// Largest request body accepted; anything above is 413.
inline constexpr size_t kMaxRequestBody = 64 * 1024;

/// What one API connection may cost (the body budget follows kMaxRequestBody).
ConnectionLimits api_connection_limits();

/// `addressing` says how clients reach corral, for the DevTools URLs in a
/// session's JSON (devtools_paths.hpp).
void register_routes(HttpServer& server, SessionManager& sessions, PublicAddressing addressing);

/// Status code and error code for an errno class.
std::pair<int, const char*> http_status_for(int error_code);

}  // namespace corral
