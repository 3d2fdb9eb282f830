#include "corral/proxy/loopback_request.hpp"

#include <strings.h>

namespace corral {

namespace {

bool dropped_for_browser(const std::string& name) {
  static const char* dropped[] = {"host", "origin", "authorization", "cookie", "proxy-authorization",
                                  "proxy-connection", "forwarded", "content-length", "transfer-encoding"};
  for (const char* header : dropped)
    if (strcasecmp(name.c_str(), header) == 0) return true;
  return strncasecmp(name.c_str(), "x-forwarded-", 12) == 0;
}

}  // namespace

std::string loopback_request(const std::string& method, const std::string& target, uint16_t port,
                             const HeaderList& headers, const std::string& body) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return request + "\r\n" + body;
}

HeaderList headers_for_browser(const HttpHeaders& client_headers) {
  HeaderList kept;
  for (const auto& [name, value] : client_headers)
    if (!dropped_for_browser(name)) kept.emplace_back(name, value);
  return kept;
}

std::string relayed_head(const HttpRequest& req, const std::string& path, uint16_t port) {
  return loopback_request(req.method, path, port, headers_for_browser(req.headers));
}

}  // namespace corral
