#include "corral/console/ui_routes.hpp"

#include "corral/server/error_body.hpp"

namespace corral {

namespace {

// Headers that keep the page to itself: no script but corral's files, no
// framing (clickjacking a "Take over" button), no sniffing a JSON answer
// or a text file into a script, no address of the console sent onward.
void add_console_headers(HttpResponse& res) {
  res.set_header("Content-Security-Policy", kUiContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cross-Origin-Opener-Policy", "same-origin");
  res.set_header("Cross-Origin-Resource-Policy", "same-origin");
  res.set_header("Cache-Control", "no-cache");
}

HttpResponse serve_file(const UiFiles* files, const std::filesystem::path& dir, const std::string& name) {
  if (!files)
    return error_response(404, "not_found",
                          "the console is not installed: no files in " + dir.string() + " (corrald --ui-dir)");
  const UiFile* file = files->find(name);
  if (!file) return error_response(404, "not_found", "the console has no file of that name");
  HttpResponse res;
  res.set_content(file->body, file->content_type);
  add_console_headers(res);
  return res;
}

}  // namespace

void register_console_routes(HttpServer& server, std::shared_ptr<const UiFiles> files,
                             const std::filesystem::path& dir) {
  auto& routes = server.routes();
  // A relative Location keeps a --public-url prefix (/corral/ui -> /corral/ui/).
  routes.add("GET", "/ui", [](const HttpRequest&, HttpResponse& res) {
    res.status = 308;
    res.set_header("Location", "ui/");
    add_console_headers(res);
  }, {Access::open});
  // The path is matched decoded: "%2e%2e" is "..", which no file is named.
  routes.add("GET", "/ui/(.*)", [files, dir](const HttpRequest& req, HttpResponse& res) {
    const std::string& name = req.matches[1];
    res = serve_file(files.get(), dir, name.empty() ? "index.html" : name);
  }, {Access::open});
}

}  // namespace corral
