#include "corral/api/public_address.hpp"

#include "corral/server/request_guard.hpp"

namespace corral {

std::string devtools_base_path(const std::string& session_id, const std::string& secret) {
  return std::string(kDevToolsPrefix) + session_id + "/" + secret;
}

std::string webdriver_base_path(const std::string& session_id, const std::string& secret) {
  return std::string(kWebDriverRelayPrefix) + session_id + "/" + secret;
}

Result<PublicBase> parse_public_url(std::string_view url) {
  auto bad = [&] {
    return Error::make(EINVAL, "'" + std::string(url.substr(0, 200)) +
                                   "' is not a public URL: http(s)://host[:port][/prefix], no query or fragment");
  };
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad();
  PublicBase base{std::string(url.substr(0, scheme_end)), "", ""};
  if (base.scheme != "http" && base.scheme != "https") return bad();
  auto rest = url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  base.authority = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) base.prefix = std::string(rest.substr(slash));
  while (!base.prefix.empty() && base.prefix.back() == '/') base.prefix.pop_back();
  if (!host_of(base.authority) || base.authority.find('@') != std::string::npos ||
      base.prefix.find_first_of("?#%\\ ") != std::string::npos)
    return bad();
  return base;
}

PublicBase public_base_from_host(std::string_view host) { return PublicBase{"http", std::string(host), ""}; }

std::optional<PublicBase> PublicAddressing::base_for(std::optional<std::string_view> host) const {
  if (public_url) return public_url;
  if (unix_listener || !host || host->empty()) return std::nullopt;
  return public_base_from_host(*host);
}

std::optional<PublicBase> PublicAddressing::base_for(const HttpRequest& request) const {
  auto host = request.headers.find("Host");
  return base_for(host == request.headers.end() ? std::nullopt : std::optional<std::string_view>(host->second));
}

}  // namespace corral
