#include "corral/proxy/relayed_head.hpp"

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
