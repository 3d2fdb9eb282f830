// Beast's own test, on a request head rebuilt from the plain HttpRequest
// (only what the test reads), so that routes need no Beast type.
#include "corral/server/websocket_upgrade.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace corral {

bool is_websocket_upgrade(const HttpRequest& request) {
  namespace http = boost::beast::http;
  http::request<http::empty_body> head;
  head.method_string(request.method);
  head.version(request.version);
  for (const char* name : {"Connection", "Upgrade"})
    if (auto values = header_values(request.headers, name)) head.set(name, *values);
  return boost::beast::websocket::is_upgrade(head);
}

}  // namespace corral
