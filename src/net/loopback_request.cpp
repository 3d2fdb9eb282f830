#include "corral/net/loopback_request.hpp"

namespace corral {

std::string loopback_request(const std::string& method, const std::string& target, uint16_t port,
                             const HeaderList& headers, const std::string& body) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return request + "\r\n" + body;
}

}  // namespace corral
