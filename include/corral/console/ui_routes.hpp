// GET /ui/: the console, a page for operators at corral's own address
// (docs/operators.md). Its files need no credential: the page is where the
// operator gives the token, which it sends to the API as a header. Every
// file goes out with a Content-Security-Policy that allows scripts from
// corral only (no inline script), connections to corral only, and no
// framing; the request guard admits the page's own origin (request_guard.hpp).
#pragma once

#include <filesystem>
#include <memory>

#include "corral/console/ui_files.hpp"
#include "corral/server/http_server.hpp"

namespace corral {

/// What every console file is sent with.
inline constexpr const char* kUiContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Serve `files` at /ui/ (index.html at /ui/ itself; /ui redirects there).
/// `files` null: the console is not installed, and /ui/ says where it was
/// looked for (`dir`).
void register_console_routes(HttpServer& server, std::shared_ptr<const UiFiles> files,
                             const std::filesystem::path& dir);

}  // namespace corral
