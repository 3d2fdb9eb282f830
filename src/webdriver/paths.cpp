#include "corral/webdriver/paths.hpp"

#include <algorithm>
#include <cctype>

#include "corral/api/public_address.hpp"

namespace corral {
namespace {

bool hex_of_length(std::string_view text, size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), [](unsigned char c) {
           return std::isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string_view without_hub(std::string_view path) {
  if (path.starts_with(kHubPrefix) && path.substr(kHubPrefix.size()).starts_with('/'))
    path.remove_prefix(kHubPrefix.size());
  return path;
}

std::optional<WebDriverTarget> parse_webdriver_target(std::string_view target) {
  target = without_hub(target);
  constexpr std::string_view kSession = "/session/";
  if (!target.starts_with(kSession)) return std::nullopt;
  target.remove_prefix(kSession.size());
  auto id = target.substr(0, 12);
  if (!hex_of_length(id, 12)) return std::nullopt;
  auto rest = target.substr(12);
  if (!rest.empty() && rest.front() != '/' && rest.front() != '?') return std::nullopt;
  return WebDriverTarget{std::string(id), std::string(rest)};
}

std::optional<RelayedTarget> parse_relayed_target(std::string_view target) {
  if (!target.starts_with(kWebDriverRelayPrefix)) return std::nullopt;
  target.remove_prefix(kWebDriverRelayPrefix.size());
  auto id = target.substr(0, 12);
  if (!hex_of_length(id, 12) || target.substr(12, 1) != "/") return std::nullopt;
  auto secret = target.substr(13, 32);
  if (!hex_of_length(secret, 32)) return std::nullopt;
  auto rest = target.substr(13 + 32);
  if (!rest.empty() && rest.front() != '/' && rest.front() != '?') return std::nullopt;
  return RelayedTarget{std::string(id), std::string(secret), std::string(rest)};
}

std::string driver_url_base(std::string_view webdriver_url) {
  auto scheme = webdriver_url.find("://");
  auto slash = webdriver_url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  if (slash == std::string_view::npos) return "";
  auto base = webdriver_url.substr(slash);
  while (base.ends_with('/')) base.remove_suffix(1);
  return std::string(base);
}

std::string driver_target(const std::string& base, const std::string& driver_id, const std::string& rest) {
  return base + "/session/" + driver_id + rest;
}

std::string replace_driver_id(std::string body, const std::string& driver_id, const std::string& corral_id) {
  if (driver_id.empty()) return body;
  for (auto at = body.find(driver_id); at != std::string::npos; at = body.find(driver_id, at + corral_id.size()))
    body.replace(at, driver_id.size(), corral_id);
  return body;
}

std::string socket_path(const std::string& session_id, const std::string& secret, SocketKind kind) {
  return "/session/" + session_id + "/" + secret + (kind == SocketKind::cdp ? "/se/cdp" : "/se/bidi");
}

std::optional<SocketTarget> parse_socket_path(std::string_view path) {
  auto target = parse_webdriver_target(path);
  if (!target || target->rest.size() < 1 + 32) return std::nullopt;
  std::string_view rest = target->rest;
  auto secret = rest.substr(1, 32);
  auto tail = rest.substr(33);
  if (!hex_of_length(secret, 32) || (tail != "/se/cdp" && tail != "/se/bidi")) return std::nullopt;
  return SocketTarget{target->session_id, std::string(secret), tail == "/se/cdp" ? SocketKind::cdp : SocketKind::bidi};
}

}  // namespace corral
