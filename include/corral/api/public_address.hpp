// Where clients reach corral, for the URLs it hands out: from a request's
// Host, or --public-url when a proxy in front decides; and where a
// session's DevTools and relayed WebDriver are on that address. (The
// proxies parse and serve those paths: devtools/paths.hpp, webdriver/paths.hpp.)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "corral/server/http_message.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// A session's DevTools are under /cdp/<id>/<secret> on corral's address.
inline constexpr std::string_view kDevToolsPrefix = "/cdp/";

/// "/cdp/<id>/<secret>"
std::string devtools_base_path(const std::string& session_id, const std::string& secret);

/// A chromedriver-kind session's WebDriver is under /webdriver/<id>/<secret>
/// on corral's address: a Selenium client's remote URL, relayed to the
/// session's chromedriver with corral's checks (webdriver/relayed.cpp).
inline constexpr std::string_view kWebDriverRelayPrefix = "/webdriver/";

/// "/webdriver/<id>/<secret>"
std::string webdriver_base_path(const std::string& session_id, const std::string& secret);

/// Where clients reach corral: "http://10.0.0.1:8420" from a request's Host,
/// or --public-url ("https://corral.example/prefix"), without a trailing '/'.
struct PublicBase {
  std::string scheme;     ///< "http" or "https"
  std::string authority;  ///< "host:port"
  std::string prefix;     ///< a path a proxy in front adds: "" or "/corral"

  std::string http_url(std::string_view path) const { return scheme + "://" + authority + prefix + std::string(path); }
  /// The same place as a WebSocket URL: ws:// for http, wss:// for https.
  std::string ws_url(std::string_view path) const {
    return (scheme == "https" ? "wss://" : "ws://") + authority + prefix + std::string(path);
  }
};

/// Check and split --public-url: http(s)://host[:port][/prefix], nothing else.
Result<PublicBase> parse_public_url(std::string_view url);

/// The base for an answer to a request that came with this Host (already
/// allowed by the request guard) over plain HTTP.
PublicBase public_base_from_host(std::string_view host);

/// How corrald itself is reached, for the URLs it hands out.
struct PublicAddressing {
  std::optional<PublicBase> public_url;  ///< --public-url: a proxy in front decides
  bool unix_listener = false;            ///< no URL to hand out: clients are local

  /// The base for an answer to a request with this Host (already allowed by
  /// the request guard); nullopt on a unix socket, or with no Host at all.
  std::optional<PublicBase> base_for(std::optional<std::string_view> host) const;
  /// base_for the Host of this request.
  std::optional<PublicBase> base_for(const HttpRequest& request) const;
};

}  // namespace corral
