#include "corral/egress/upstream_proxy.hpp"

#include <optional>

#include "corral/egress/ip_address.hpp"

namespace corral {
namespace {

constexpr size_t kLongestCredentialPart = 255;  // RFC 1929: one length byte each

Error invalid(const std::string& why) { return Error::make(EINVAL, "proxy: " + why); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decoded(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

std::string percent_encoded(std::string_view text) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += '%';
      out += digits[byte >> 4];
      out += digits[byte & 15];
    }
  }
  return out;
}

bool has_control_characters(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

bool valid_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  return true;
}

Result<void> parse_credential(std::string_view userinfo, UpstreamProxy& proxy) {
  auto colon = userinfo.find(':');
  auto user = percent_decoded(userinfo.substr(0, colon));
  auto password = colon == std::string_view::npos ? std::optional<std::string>("")
                                                  : percent_decoded(userinfo.substr(colon + 1));
  if (!user || !password) return invalid("the credential has a bad percent-escape");
  if (user->size() > kLongestCredentialPart || password->size() > kLongestCredentialPart)
    return invalid("a user or password is over 255 bytes");
  if (has_control_characters(*user) || has_control_characters(*password))
    return invalid("the credential has control characters");
  if (user->empty() && !password->empty()) return invalid("a password needs a user");
  proxy.username = std::move(*user);
  proxy.password = std::move(*password);
  return success();
}

Result<void> parse_host_port(std::string_view hostport, UpstreamProxy& proxy) {
  std::string_view host, port;
  if (hostport.starts_with("[")) {
    auto close = hostport.find(']');
    if (close == std::string_view::npos || close + 1 >= hostport.size() || hostport[close + 1] != ':')
      return invalid("write an IPv6 proxy as [address]:port");
    host = hostport.substr(1, close - 1);
    port = hostport.substr(close + 2);
    auto address = IpAddress::parse(host);
    if (!address || address->is_v4()) return invalid("the address in brackets is not IPv6");
  } else {
    auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) return invalid("the proxy needs a port (host:port)");
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
    if (!valid_name(host)) return invalid("the proxy's host is not a name or an address");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return invalid("the proxy's port is not a number");
  unsigned number = std::stoul(std::string(port));
  if (number == 0 || number > 65535) return invalid("the proxy's port must be 1-65535");
  proxy.host = std::string(host);
  proxy.port = static_cast<uint16_t>(number);
  return success();
}

}  // namespace

const char* upstream_proxy_scheme_name(UpstreamProxy::Scheme scheme) {
  return scheme == UpstreamProxy::Scheme::http ? "http" : "socks5";
}

std::string UpstreamProxy::authority() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string UpstreamProxy::redacted() const {
  std::string credential;
  if (has_credential()) credential = percent_encoded(username) + ":***@";
  return std::string(upstream_proxy_scheme_name(scheme)) + "://" + credential + authority();
}

std::string UpstreamProxy::url() const {
  std::string credential;
  if (has_credential()) credential = percent_encoded(username) + ":" + percent_encoded(password) + "@";
  return std::string(upstream_proxy_scheme_name(scheme)) + "://" + credential + authority();
}

Result<UpstreamProxy> parse_upstream_proxy(std::string_view url) {
  UpstreamProxy proxy;
  if (url.size() > 1024) return invalid("the URL is over 1024 bytes");
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("socks5://")) {
    proxy.scheme = UpstreamProxy::Scheme::socks5;
    url.remove_prefix(9);
  } else {
    return invalid("only http://[user:password@]host:port and socks5://[user:password@]host:port are supported");
  }
  if (url.ends_with("/")) url.remove_suffix(1);
  if (url.find_first_of("/?#") != std::string_view::npos) return invalid("a proxy URL has no path, query or fragment");
  if (has_control_characters(url)) return invalid("the URL has control characters");
  auto at = url.rfind('@');
  if (at != std::string_view::npos) {
    CORRAL_TRY(parse_credential(url.substr(0, at), proxy));
    url.remove_prefix(at + 1);
  }
  CORRAL_TRY(parse_host_port(url, proxy));
  return proxy;
}

std::string base64_encode(std::string_view bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  if (size_t left = bytes.size() - i; left > 0) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (left == 2) n |= uint8_t(bytes[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += left == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace corral
