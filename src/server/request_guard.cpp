#include "corral/server/request_guard.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace corral {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A TCP port as Host may carry it: 1 to 65535 in decimal ("0", "65536" and
// "99999" name no port a client can have reached).
bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
    return false;
  unsigned port = 0;
  for (char c : text) port = port * 10 + static_cast<unsigned>(c - '0');
  return port >= 1 && port <= 65535;
}

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
}

// What a client sent in Host, shown in a message: printable bytes only.
std::string shown(std::string_view value) {
  std::string out;
  for (unsigned char c : value.substr(0, 100)) out += std::isprint(c) ? static_cast<char>(c) : '?';
  return out;
}

bool host_allowed(std::string_view host_header, const RequestGuardPolicy& policy) {
  auto host = host_of(host_header);
  if (!host) return false;
  if (*host == "localhost" || is_ip_literal(*host)) return true;
  return std::find(policy.allowed_hosts.begin(), policy.allowed_hosts.end(), *host) != policy.allowed_hosts.end();
}

// The request's own origin: only where Host was checked (not on a unix
// socket, where Host is whatever the client likes) and has passed.
bool is_own_origin(std::string_view normal_origin, const GuardedRequest& request, const RequestGuardPolicy& policy) {
  if (!policy.check_host || !request.host) return false;
  return normal_origin == "http://" + lower(trim(*request.host));
}

bool origin_allowed(std::string_view origin, const GuardedRequest& request, const RequestGuardPolicy& policy) {
  auto normal = lower(trim(origin));
  if (!normal.empty() && normal.back() == '/') normal.pop_back();
  if (policy.public_origin && normal == *policy.public_origin) return true;
  if (is_own_origin(normal, request, policy)) return true;
  return std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), normal) !=
         policy.allowed_origins.end();
}

// "application/json", with parameters ("; charset=utf-8") allowed.
bool is_json_media_type(std::string_view content_type) {
  auto media_type = trim(content_type.substr(0, content_type.find(';')));
  return lower(media_type) == "application/json";
}

}  // namespace

std::optional<std::string> host_of(std::string_view host_header) {
  auto value = trim(host_header);
  std::string_view host = value, port;
  if (value.substr(0, 1) == "[") {
    auto close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = value.substr(1, close - 1);
    auto rest = value.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !is_port(port = rest.substr(1)))) return std::nullopt;
    if (!is_ip_literal(host) || host.find(':') == std::string_view::npos) return std::nullopt;
    return lower(host);
  }
  if (auto colon = value.find(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (!is_port(port)) return std::nullopt;
  }
  if (!is_dns_name(host)) return std::nullopt;
  return lower(host);
}

bool is_ip_literal(std::string_view host) {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  std::string text(host);
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, text.c_str(), address) == 1 || inet_pton(AF_INET6, text.c_str(), address) == 1;
}

std::optional<GuardRefusal> guard_request(const GuardedRequest& request, const RequestGuardPolicy& policy) {
  // Browsers always send Host; a request without one (HTTP/1.0, or a
  // hand-made one) cannot show where it was aimed, so it is not served.
  if (policy.check_host && !request.host)
    return GuardRefusal{403, "host_not_allowed",
                        "a request must name the host it is for in a Host header (HTTP/1.1 requires it)"};
  if (policy.check_host && !host_allowed(*request.host, policy))
    return GuardRefusal{403, "host_not_allowed",
                        "Host '" + shown(*request.host) +
                            "' is not an IP address, localhost, or a name this corrald allows (--allow-host); "
                            "a web page may be trying to reach corral through DNS rebinding"};
  if (request.origin && !origin_allowed(*request.origin, request, policy))
    return GuardRefusal{403, "origin_not_allowed",
                        "requests from web pages (Origin '" + shown(*request.origin) +
                            "') are refused unless the page is corral's own console or this corrald allows that origin "
                            "(--allow-origin)"};
  if (request.has_body && (!request.content_type || !is_json_media_type(*request.content_type)))
    return GuardRefusal{415, "unsupported_media_type", "a request body must be sent as Content-Type: application/json"};
  return std::nullopt;
}

Result<std::string> parse_allowed_host(std::string_view name) {
  if (!is_dns_name(name) || is_ip_literal(name))
    return Error::make(EINVAL, "'" + shown(name) +
                                   "' is not a host name (letters, digits, '-' and '.'; IP addresses are always "
                                   "allowed)");
  return lower(name);
}

Result<std::string> parse_allowed_origin(std::string_view origin) {
  auto normal = lower(origin);
  if (!normal.empty() && normal.back() == '/') normal.pop_back();
  auto scheme_end = normal.find("://");
  auto scheme = normal.substr(0, scheme_end);
  auto bad = [&] {
    return Error::make(EINVAL, "'" + shown(origin) + "' is not an origin: scheme://host[:port], with scheme http or "
                                                     "https and nothing after the port");
  };
  if (scheme_end == std::string::npos || (scheme != "http" && scheme != "https")) return bad();
  auto authority = std::string_view(normal).substr(scheme_end + 3);
  if (authority.find_first_of("/?#@") != std::string_view::npos || !host_of(authority)) return bad();
  return normal;
}

}  // namespace corral
