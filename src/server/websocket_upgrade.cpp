// Beast's own test, on a request head rebuilt from the plain HttpRequest
// (only what the test reads), so that routes need no Beast type.
#include "corral/server/websocket_upgrade.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace corral {

namespace {

// Every field `name` came with, as one comma-separated list.
std::string joined(const HttpHeaders& headers, const std::string& name) {
  std::string list;
  auto [first, end] = headers.equal_range(name);
  for (auto it = first; it != end; ++it) list += (list.empty() ? "" : ", ") + it->second;
  return list;
}

}  // namespace

bool is_websocket_upgrade(const HttpRequest& request) {
  namespace http = boost::beast::http;
  http::request<http::empty_body> head;
  head.method_string(request.method);
  head.version(request.version);
  for (const char* name : {"Connection", "Upgrade"})
    if (request.has_header(name)) head.set(name, joined(request.headers, name));
  return boost::beast::websocket::is_upgrade(head);
}

}  // namespace corral
