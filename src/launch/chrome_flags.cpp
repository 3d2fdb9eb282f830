#include "corral/launch/chrome_flags.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace corral {
namespace {

// Flags that make Chrome execute a program, or that would let a client
// reach outside its session (corral owns the profile, port and logs).
constexpr std::array<std::string_view, 19> kForbidden = {
    "--renderer-cmd-prefix", "--utility-cmd-prefix", "--zygote-cmd-prefix", "--gpu-launcher",
    "--browser-subprocess-path", "--plugin-launcher", "--ppapi-plugin-launcher", "--nacl-loader-cmd-prefix",
    "--user-data-dir", "--remote-debugging-port", "--remote-debugging-address", "--remote-debugging-pipe",
    "--remote-debugging-io-pipes", "--load-extension", "--disable-extensions-except", "--single-process",
    "--disk-cache-dir", "--crash-dumps-dir", "--log-file"};

// Allowed Chrome flags: exact ("--mute-audio") or with a value ("--lang=de").
constexpr std::array<std::string_view, 32> kChromeAllowed = {
    "--window-size", "--lang", "--accept-lang", "--user-agent",
    "--host-resolver-rules", "--ignore-certificate-errors", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
    "--disable-extensions", "--blink-settings", "--force-device-scale-factor", "--disable-features",
    "--enable-features", "--disable-blink-features", "--enable-automation", "--incognito", "--autoplay-policy",
    "--force-color-profile", "--font-render-hinting", "--disable-notifications", "--disable-popup-blocking",
    "--start-maximized", "--disable-infobars", "--headless", "--disable-web-security", "--allow-running-insecure-content",
    "--disable-dev-shm-usage", "--disable-software-rasterizer", "--no-pings", "--password-store", "--use-mock-keychain"};

constexpr std::array<std::string_view, 5> kChromedriverAllowed = {
    "--verbose", "--log-level", "--silent", "--readable-timestamp", "--disable-dev-shm-usage"};

std::string_view flag_name(std::string_view arg) { return arg.substr(0, arg.find('=')); }

template <size_t N>
bool listed(const std::array<std::string_view, N>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

Result<void> check_one(BrowserKind kind, const std::string& arg) {
  std::string_view name = flag_name(arg);
  if (!arg.starts_with("--") || name.size() < 3)
    return Error::make(EINVAL, "argument '" + arg + "' is not a --flag");
  if (arg.find('\0') != std::string::npos || arg.size() > 1024)
    return Error::make(EINVAL, "argument is too long or contains NUL");
  if (name.starts_with("--proxy") || name == "--no-proxy-server")
    return Error::make(EINVAL, "flag '" + std::string(name) +
                                   "' is refused: a session's way out is corral's (its egress relay and policy, "
                                   "docs/network.md)");
  if (listed(kForbidden, name) || name.starts_with("--remote-debugging"))
    return Error::make(EINVAL, "flag '" + std::string(name) +
                                   "' is forbidden: it runs a command or takes over what corral manages");
  bool allowed = kind == BrowserKind::chrome ? listed(kChromeAllowed, name) : listed(kChromedriverAllowed, name);
  if (!allowed)
    return Error::make(EINVAL, "flag '" + std::string(name) + "' is not on the " + browser_kind_name(kind) +
                                   " allowlist");
  return success();
}

}  // namespace

Result<BrowserKind> parse_browser_kind(const std::string& text) {
  if (text == "chrome") return BrowserKind::chrome;
  if (text == "chromedriver") return BrowserKind::chromedriver;
  return Error::make(EINVAL, "unknown kind '" + text + "' (use \"chrome\" or \"chromedriver\")");
}

const char* browser_kind_name(BrowserKind kind) {
  return kind == BrowserKind::chrome ? "chrome" : "chromedriver";
}

Result<void> check_client_args(BrowserKind kind, const std::vector<std::string>& args) {
  if (args.size() > 64) return Error::make(EINVAL, "too many args (at most 64)");
  for (const auto& arg : args) CORRAL_TRY(check_one(kind, arg));
  return success();
}

}  // namespace corral
