#include "corral/webdriver/capabilities.hpp"

#include <algorithm>

#include "corral/api/open_request.hpp"
#include "corral/launch/chrome_flags.hpp"
#include "corral/util/json_bounded.hpp"

namespace corral {
namespace {
using nlohmann::json;

constexpr const char* kChromeOptions = "goog:chromeOptions";
constexpr const char* kCorralOptions = "corral:options";

// What a legacy desiredCapabilities may carry into a W3C request: the
// standard capabilities and extensions; JSON Wire keys (platform, version,
// javascriptEnabled, ...) would make chromedriver refuse the request.
bool w3c_key(const std::string& key) {
  static const char* standard[] = {"browserName", "browserVersion", "platformName", "acceptInsecureCerts",
                                   "pageLoadStrategy", "proxy", "setWindowRect", "timeouts",
                                   "strictFileInteractability", "unhandledPromptBehavior", "webSocketUrl"};
  return key.find(':') != std::string::npos ||
         std::any_of(std::begin(standard), std::end(standard), [&](const char* name) { return key == name; });
}

std::string flag_name(const std::string& arg) { return arg.substr(0, arg.find('=')); }

// Flags that would undo what corral's isolation rests on: dropped, and the
// bot told so, since Selenium examples add them out of habit.
bool undoes_isolation(const std::string& name) {
  return name == "--no-sandbox" || name == "--disable-setuid-sandbox" || name == "--user-data-dir" ||
         name.starts_with("--remote-debugging");
}

bool set_by_corral(const std::string& arg, const std::vector<std::string>& corral_flags) {
  auto name = flag_name(arg);
  if (name == "--headless") return true;
  return std::any_of(corral_flags.begin(), corral_flags.end(), [&](const std::string& own) {
    return own == arg || (own == name && arg == name);
  });
}

Result<std::vector<std::string>> client_args(const json& options, const CorralBrowser& browser,
                                             std::vector<std::string>& warnings) {
  std::vector<std::string> kept;
  if (!options.contains("args")) return kept;
  if (!options["args"].is_array()) return Error::make(EINVAL, "goog:chromeOptions.args must be an array of strings");
  for (const auto& value : options["args"]) {
    if (!value.is_string()) return Error::make(EINVAL, "goog:chromeOptions.args must be an array of strings");
    auto arg = value.get<std::string>();
    if (!arg.starts_with("--") && !arg.empty() && arg[0] != '-') arg = "--" + arg;  // chromedriver adds "--" too
    if (set_by_corral(arg, browser.flags)) continue;
    if (undoes_isolation(flag_name(arg))) {
      warnings.push_back("goog:chromeOptions.args: " + flag_name(arg) + " dropped: corral runs the browser in its own "
                         "sandbox, profile and debugging port");
      continue;
    }
    kept.push_back(std::move(arg));
  }
  if (auto checked = check_client_args(BrowserKind::chrome, kept); !checked)
    return Error::make(EINVAL, "goog:chromeOptions.args: " + checked.error().message);
  return kept;
}

// A warm chromedriver's browser was started before the bot asked
// (warm_driver.hpp); attaching to it, chromedriver silently ignores every
// goog:chromeOptions key that shapes a launch (checked with chromedriver
// 156: args, binary, extensions, prefs; by its source, the rest below).
// So a key is a hit only when it asks for nothing beyond what the warm
// browser has: an args list that corral empties anyway (its own flags, and
// those it drops), empty extensions, prefs and excludeSwitches, w3c true,
// detach false. Anything else, or unknown, is a miss: a cold start honours it.
std::string chrome_options_attach_miss(const json& options, const std::vector<std::string>& kept_args) {
  if (!kept_args.empty()) return "goog:chromeOptions.args asks for browser flags";
  for (const auto& [key, value] : options.items()) {
    if (key == "args") continue;
    bool empty_list = (key == "extensions" || key == "excludeSwitches") && value.is_array() && value.empty();
    bool empty_prefs = key == "prefs" && value.is_object() && value.empty();
    bool defaults = (key == "w3c" && value == true) || (key == "detach" && value == false);
    if (!empty_list && !empty_prefs && !defaults) return "goog:chromeOptions." + key + " shapes the browser's launch";
  }
  return "";
}

// An extension capability ("vendor:name") of a vendor other than
// chromedriver's own (goog:, webauthn:) is ignored by chromedriver whether
// it launches the browser or attaches to it: Grid users route with them
// (`team:queue`), Grid adds its own (`se:name`). Nothing it asks for is lost
// by attaching.
bool ignored_by_chromedriver(const std::string& key) {
  auto colon = key.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  auto vendor = key.substr(0, colon);
  return vendor != "goog" && vendor != "webauthn";
}

// The capabilities outside goog:chromeOptions that chromedriver applies
// to its session, not to the browser's launch: the same on an attached
// browser. acceptInsecureCerts and webSocketUrl (BiDi) only at their
// defaults; any other of its own (browserVersion, goog:loggingPrefs) is
// not known to work attached, so a miss.
std::string top_level_attach_miss(const json& caps) {
  static const char* session_level[] = {"browserName", "platformName", "pageLoadStrategy", "timeouts",
                                        "unhandledPromptBehavior", "strictFileInteractability", "setWindowRect",
                                        "goog:chromeOptions"};
  // Not a structured binding: clang before 16 (the fuzz build) cannot capture one.
  for (const auto& item : caps.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    if (std::any_of(std::begin(session_level), std::end(session_level), [&](const char* name) { return key == name; }))
      continue;
    if ((key == "acceptInsecureCerts" || key == "webSocketUrl") && value == false) continue;
    if (ignored_by_chromedriver(key)) continue;
    return "capability '" + key + "' is not known to hold for an attached browser";
  }
  return "";
}

// goog:chromeOptions, taken out of caps, with corral's browser and flags;
// EINVAL for what a bot may not choose. Taken, not copied: its extensions
// are most of a large body. `attach_miss`: why a warm chromedriver cannot
// serve these options ("" when it can).
Result<json> chrome_options(json& caps, const CorralBrowser& browser, std::vector<std::string>& warnings,
                            std::string& attach_miss) {
  json options = caps.contains(kChromeOptions) ? std::move(caps[kChromeOptions]) : json::object();
  if (!options.is_object()) return Error::make(EINVAL, "goog:chromeOptions must be an object");
  for (const auto& [key, value] : options.items()) {
    if (key == "binary") return Error::make(EINVAL, "goog:chromeOptions.binary is refused: corral runs its own browser");
    if (key == "debuggerAddress")
      return Error::make(EINVAL, "goog:chromeOptions.debuggerAddress is refused: corral starts the browser itself");
    if (key == "minidumpPath" || key.starts_with("android"))
      return Error::make(EINVAL, "goog:chromeOptions." + key + " is refused on corral");
  }
  auto args = client_args(options, browser, warnings);
  if (!args) return args.error();
  attach_miss = chrome_options_attach_miss(options, *args);
  json all = browser.flags;
  for (auto& arg : *args) all.push_back(arg);
  options["args"] = all;
  if (!browser.binary.empty()) options["binary"] = browser.binary;
  return options;
}

// corral:options, taken out of caps, as a POST /v1/sessions body; its kind
// can only be chromedriver.
Result<SessionRequest> corral_options(json& caps) {
  json fields = caps.contains(kCorralOptions) ? std::move(caps[kCorralOptions]) : json::object();
  caps.erase(kCorralOptions);
  if (!fields.is_object()) return Error::make(EINVAL, "corral:options must be an object");
  if (fields.contains("kind") && fields["kind"] != "chromedriver")
    return Error::make(EINVAL, "corral:options.kind: a WebDriver session is always \"chromedriver\"");
  fields["kind"] = "chromedriver";
  auto request = session_request_from(fields);
  if (!request) return Error::make(EINVAL, "corral:options: " + request.error().message);
  return request;
}

// Whether corral runs the browser that an entry of firstMatch, merged with
// alwaysMatch, asks for.
bool serves(const json& always, const json& entry) {
  const json& caps = entry.contains("browserName") ? entry : always;
  if (!caps.contains("browserName") || caps["browserName"].is_null()) return true;
  return caps["browserName"] == "chrome" || caps["browserName"] == "chromium";
}

// The body's {alwaysMatch, firstMatch}, taken out of it; legacy
// desiredCapabilities become alwaysMatch.
Result<json> requested(json& body) {
  if (body.contains("capabilities") && body["capabilities"].is_object()) return std::move(body["capabilities"]);
  if (!body.contains("desiredCapabilities") || !body["desiredCapabilities"].is_object())
    return Error::make(EINVAL, "the body must have a \"capabilities\" object");
  json always = json::object();
  json& desired = body["desiredCapabilities"];
  for (auto it = desired.begin(); it != desired.end(); ++it)
    if (it.key() == "chromeOptions") always[kChromeOptions] = std::move(it.value());
    else if (w3c_key(it.key())) always[it.key()] = std::move(it.value());
  json request = json::object();
  request["alwaysMatch"] = std::move(always);
  return request;
}

// W3C "process capabilities": alwaysMatch with each firstMatch in turn.
// Every entry is checked, but only the first one corral serves is merged,
// and by moving: a body is up to 32 MiB, and each copy of it was one more
// (issue 19). ENOTSUP when no entry names a browser corral runs.
Result<json> chosen_capabilities(json body) {
  auto request = requested(body);
  if (!request) return request.error();
  json always = request->contains("alwaysMatch") ? std::move((*request)["alwaysMatch"]) : json::object();
  json first = request->contains("firstMatch") ? std::move((*request)["firstMatch"]) : json::array({json::object()});
  if (!always.is_object()) return Error::make(EINVAL, "alwaysMatch must be an object");
  if (!first.is_array() || first.empty()) return Error::make(EINVAL, "firstMatch must be a non-empty array");
  json* chosen = nullptr;
  for (auto& entry : first) {
    if (!entry.is_object()) return Error::make(EINVAL, "each firstMatch entry must be an object");
    for (auto it = entry.begin(); it != entry.end(); ++it)
      if (always.contains(it.key()))
        return Error::make(EINVAL, "capability '" + it.key() + "' is in alwaysMatch and firstMatch");
    if (!chosen && serves(always, entry)) chosen = &entry;
  }
  if (!chosen)
    return Error::make(ENOTSUP, "corral runs Chrome/Chromium only: browserName must be \"chrome\", \"chromium\" or absent");
  for (auto it = chosen->begin(); it != chosen->end(); ++it) always[it.key()] = std::move(it.value());
  return always;
}

}  // namespace

Result<NewSessionPlan> plan_new_session(json body, const CorralBrowser& browser) {
  if (!body.is_object()) return Error::make(EINVAL, "the body must be a JSON object");
  auto chosen = chosen_capabilities(std::move(body));
  if (!chosen) return chosen.error();
  json caps = std::move(*chosen);
  NewSessionPlan plan;
  plan.corral_options = caps.contains(kCorralOptions);
  auto request = corral_options(caps);
  if (!request) return request.error();
  plan.request = std::move(*request);
  // chromedriver would turn it into Chrome's proxy flags, which corral
  // refuses as args too: dropping it would send a bot that counts on its
  // proxy out without it.
  if (caps.contains("proxy") && !caps["proxy"].is_null())
    return Error::make(EINVAL, "capability 'proxy' is refused: a session's way out is corral's (its egress relay "
                               "and policy, docs/network.md)");
  plan.request.warm_attach_miss = top_level_attach_miss(caps);
  std::string options_miss;
  auto options = chrome_options(caps, browser, plan.warnings, options_miss);
  if (!options) return options.error();
  if (plan.request.warm_attach_miss.empty()) plan.request.warm_attach_miss = options_miss;
  caps[kChromeOptions] = std::move(*options);
  if (caps.contains("browserName")) caps["browserName"] = "chrome";  // chromedriver knows no "chromium"
  plan.bidi = caps.value("webSocketUrl", json(false)) == true;
  plan.forward = json::object();
  plan.forward["capabilities"]["alwaysMatch"] = std::move(caps);
  plan.forward["capabilities"]["firstMatch"] = json::array({json::object()});
  return plan;
}

std::string warm_driver_session_body(const CorralBrowser& browser) {
  auto plan = plan_new_session(json{{"capabilities", json::object()}}, browser);
  return plan ? plan->forward.dump() : "";
}

void attach_to_warm_browser(json& forward, uint16_t browser_port) {
  json& caps = forward["capabilities"]["alwaysMatch"];
  json options = json::object();
  options["debuggerAddress"] = "127.0.0.1:" + std::to_string(browser_port);
  if (caps.contains(kChromeOptions) && caps[kChromeOptions].contains("w3c"))
    options["w3c"] = caps[kChromeOptions]["w3c"];
  caps[kChromeOptions] = std::move(options);
}

Result<DriverSession> parse_driver_session(const std::string& body) {
  auto parsed = parse_json_bounded(body);
  if (!parsed && parsed.error().code == E2BIG)
    return Error::make(EBADMSG, "chromedriver's new-session answer was refused: JSON " + parsed.error().message);
  if (!parsed || !parsed->is_object() || !parsed->contains("value") || !(*parsed)["value"].is_object())
    return Error::make(EBADMSG, "chromedriver's new-session answer is not JSON with a value");
  json& value = (*parsed)["value"];
  if (!value.contains("sessionId") || !value["sessionId"].is_string() || !value.contains("capabilities") ||
      !value["capabilities"].is_object())
    return Error::make(EBADMSG, "chromedriver's new-session answer has no sessionId and capabilities");
  DriverSession driver{value["sessionId"].get<std::string>(), 0, std::move(value["capabilities"])};
  auto options = driver.capabilities.value(kChromeOptions, json::object());
  if (options.is_object() && options.contains("debuggerAddress") && options["debuggerAddress"].is_string()) {
    auto address = options["debuggerAddress"].get<std::string>();
    auto colon = address.rfind(':');
    int port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
    if (port > 0 && port < 65536) driver.debugger_port = static_cast<uint16_t>(port);
  }
  return driver;
}

json client_new_session_reply(DriverSession driver, const std::string& corral_id, const SessionUrls& urls,
                              std::vector<std::string> warnings) {
  json caps = std::move(driver.capabilities);
  // chromedriver names its browser's loopback port in every answer; a bot
  // cannot reach it and uses se:cdp. Dropped without a warning: the bot
  // did not ask for it (a bot's own debuggerAddress is refused, 400).
  if (caps.contains(kChromeOptions) && caps[kChromeOptions].is_object())
    caps[kChromeOptions].erase("debuggerAddress");
  if (urls.cdp) {
    caps["se:cdp"] = *urls.cdp;
    // A Selenium Grid node relaying this session opens its CDP WebSockets
    // here. Without it the node would look for debuggerAddress and GET
    // /json/version on it; Grid hands its bots an se:cdp of its own.
    caps["se:forwardCdp"] = *urls.cdp;
  }
  if (urls.cdp && !urls.cdp_version.empty()) caps["se:cdpVersion"] = urls.cdp_version;
  if (caps.contains("webSocketUrl") && caps["webSocketUrl"].is_string()) {
    if (urls.bidi) caps["webSocketUrl"] = *urls.bidi;
    else caps.erase("webSocketUrl");
  }
  if (!warnings.empty()) caps["corral:warnings"] = warnings;
  return {{"value", {{"sessionId", corral_id}, {"capabilities", caps}}}};
}

std::string cdp_version_of(const std::string& browser) {
  auto slash = browser.find('/');
  return slash == std::string::npos ? browser : browser.substr(slash + 1);
}

}  // namespace corral
