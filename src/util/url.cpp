#include "corral/util/url.hpp"

namespace corral {

std::string url_path(std::string_view url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  return slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
}

uint16_t url_port(std::string_view url) {
  auto scheme = url.find("://");
  auto authority = url.substr(scheme == std::string_view::npos ? 0 : scheme + 3);
  authority = authority.substr(0, authority.find('/'));
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) return 0;
  unsigned port = 0;
  for (char c : authority.substr(colon + 1)) {
    if (c < '0' || c > '9' || (port = port * 10 + unsigned(c - '0')) > 65535) return 0;
  }
  return static_cast<uint16_t>(port);
}

}  // namespace corral
