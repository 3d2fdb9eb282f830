// Where WebDriver is on corral's address, and how a path a bot sends maps
// to the one its session's chromedriver knows. Routes are served at the
// root (Selenium 4) and under /wd/hub (older setups, Selenoid users); the
// session id in them is corral's (12 hex digits), which stands for
// chromedriver's own (32 hex digits) only between corral and chromedriver.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace corral {

/// The prefix older setups (Selenoid users) put before every WebDriver path.
inline constexpr std::string_view kHubPrefix = "/wd/hub";
/// Where every WebDriver route is served: at the root and under kHubPrefix.
inline const std::string kWebDriverPrefixes[] = {"", std::string(kHubPrefix)};

/// `path` without a leading kHubPrefix ("/wd/hub/status" gives "/status").
std::string_view without_hub(std::string_view path);

/// A command path, split: /[wd/hub/]session/<corral id><rest>.
struct WebDriverTarget {
  std::string session_id;  ///< corral's id: 12 hex digits
  std::string rest;        ///< "", "/url", "/element/ID/click", query included
};

/// nullopt unless `target` is "[/wd/hub]/session/<12 hex>[/rest][?query]".
std::optional<WebDriverTarget> parse_webdriver_target(std::string_view target);

/// A target under a chromedriver-kind session's relayed base
/// (webdriver_base_path: /webdriver/<id>/<secret>), split.
struct RelayedTarget {
  std::string session_id;  ///< corral's id: 12 hex digits
  std::string secret;      ///< the session's access secret: 32 hex digits
  std::string rest;        ///< what a Selenium client asks of its remote URL: "/status", "/session/<id>/url"
};

/// nullopt unless `target` is "/webdriver/<12 hex>/<32 hex>[/rest][?query]".
std::optional<RelayedTarget> parse_relayed_target(std::string_view target);

/// The path a session's chromedriver answers under, from its `webdriver`
/// URL: "http://127.0.0.1:PORT/<secret>" gives "/<secret>"; a URL without
/// a path (a session an older corrald started) gives "".
std::string driver_url_base(std::string_view webdriver_url);

/// The same command for chromedriver: "<base>/session/<driver id><rest>".
std::string driver_target(const std::string& base, const std::string& driver_id, const std::string& rest);

/// Every occurrence of chromedriver's id in an answer, as corral's id: a bot
/// never learns the id that only chromedriver knows.
std::string replace_driver_id(std::string body, const std::string& driver_id, const std::string& corral_id);

/// A session's WebSockets through corral: the browser's DevTools (se:cdp)
/// and chromedriver's BiDi (webSocketUrl). The secret in the path stands in
/// for the token, since Selenium opens these without headers.
enum class SocketKind { cdp, bidi };
struct SocketTarget {
  std::string session_id;
  std::string secret;
  SocketKind kind = SocketKind::cdp;
};

/// "/session/<id>/<secret>/se/cdp" or ".../se/bidi".
std::string socket_path(const std::string& session_id, const std::string& secret, SocketKind kind);
/// nullopt unless `path` is "[/wd/hub]/session/<12 hex>/<32 hex>/se/(cdp|bidi)".
std::optional<SocketTarget> parse_socket_path(std::string_view path);

}  // namespace corral
