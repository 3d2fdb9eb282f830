#include "corral/api/webdriver_capabilities.hpp"

#include <algorithm>

#include "corral/api/open_request.hpp"
#include "corral/launch/chrome_flags.hpp"

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

// goog:chromeOptions with corral's browser and flags; EINVAL for what a bot
// may not choose.
Result<json> chrome_options(const json& caps, const CorralBrowser& browser, std::vector<std::string>& warnings) {
  json options = caps.contains(kChromeOptions) ? caps[kChromeOptions] : json::object();
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
  json all = browser.flags;
  for (auto& arg : *args) all.push_back(arg);
  options["args"] = all;
  if (!browser.binary.empty()) options["binary"] = browser.binary;
  return options;
}

// corral:options as a POST /v1/sessions body; its kind can only be chromedriver.
Result<SessionRequest> corral_options(const json& caps) {
  json fields = caps.contains(kCorralOptions) ? caps[kCorralOptions] : json::object();
  if (!fields.is_object()) return Error::make(EINVAL, "corral:options must be an object");
  if (fields.contains("kind") && fields["kind"] != "chromedriver")
    return Error::make(EINVAL, "corral:options.kind: a WebDriver session is always \"chromedriver\"");
  fields["kind"] = "chromedriver";
  auto request = parse_session_request(fields.dump());
  if (!request) return Error::make(EINVAL, "corral:options: " + request.error().message);
  return request;
}

bool serves(const json& caps) {
  if (!caps.contains("browserName") || caps["browserName"].is_null()) return true;
  return caps["browserName"] == "chrome" || caps["browserName"] == "chromium";
}

// W3C "process capabilities": alwaysMatch with each firstMatch in turn.
Result<std::vector<json>> candidates(const json& body) {
  json request;
  if (body.contains("capabilities") && body["capabilities"].is_object()) {
    request = body["capabilities"];
  } else if (body.contains("desiredCapabilities") && body["desiredCapabilities"].is_object()) {
    json always = json::object();
    for (const auto& [key, value] : body["desiredCapabilities"].items())
      if (key == "chromeOptions") always[kChromeOptions] = value;
      else if (w3c_key(key)) always[key] = value;
    request = {{"alwaysMatch", always}};
  } else {
    return Error::make(EINVAL, "the body must have a \"capabilities\" object");
  }
  json always = request.value("alwaysMatch", json::object());
  json first = request.value("firstMatch", json::array({json::object()}));
  if (!always.is_object()) return Error::make(EINVAL, "alwaysMatch must be an object");
  if (!first.is_array() || first.empty()) return Error::make(EINVAL, "firstMatch must be a non-empty array");
  std::vector<json> merged;
  for (const auto& entry : first) {
    if (!entry.is_object()) return Error::make(EINVAL, "each firstMatch entry must be an object");
    json one = always;
    for (const auto& [key, value] : entry.items()) {
      if (always.contains(key)) return Error::make(EINVAL, "capability '" + key + "' is in alwaysMatch and firstMatch");
      one[key] = value;
    }
    merged.push_back(std::move(one));
  }
  return merged;
}

}  // namespace

Result<NewSessionPlan> plan_new_session(const json& body, const CorralBrowser& browser) {
  if (!body.is_object()) return Error::make(EINVAL, "the body must be a JSON object");
  auto all = candidates(body);
  if (!all) return all.error();
  auto chosen = std::find_if(all->begin(), all->end(), serves);
  if (chosen == all->end())
    return Error::make(ENOTSUP, "corral runs Chrome/Chromium only: browserName must be \"chrome\", \"chromium\" or absent");
  json caps = std::move(*chosen);
  NewSessionPlan plan;
  auto request = corral_options(caps);
  if (!request) return request.error();
  plan.request = std::move(*request);
  auto options = chrome_options(caps, browser, plan.warnings);
  if (!options) return options.error();
  caps.erase(kCorralOptions);
  caps[kChromeOptions] = std::move(*options);
  if (caps.contains("browserName")) caps["browserName"] = "chrome";  // chromedriver knows no "chromium"
  plan.bidi = caps.value("webSocketUrl", json(false)) == true;
  plan.forward = {{"capabilities", {{"alwaysMatch", caps}, {"firstMatch", json::array({json::object()})}}}};
  return plan;
}

Result<DriverSession> parse_driver_session(const std::string& body) {
  json answer = json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("value") || !answer["value"].is_object())
    return Error::make(EBADMSG, "chromedriver's new-session answer is not JSON with a value");
  const json& value = answer["value"];
  if (!value.contains("sessionId") || !value["sessionId"].is_string() || !value.contains("capabilities") ||
      !value["capabilities"].is_object())
    return Error::make(EBADMSG, "chromedriver's new-session answer has no sessionId and capabilities");
  DriverSession driver{value["sessionId"].get<std::string>(), 0, value["capabilities"]};
  auto options = driver.capabilities.value(kChromeOptions, json::object());
  if (options.is_object() && options.contains("debuggerAddress") && options["debuggerAddress"].is_string()) {
    auto address = options["debuggerAddress"].get<std::string>();
    auto colon = address.rfind(':');
    int port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
    if (port > 0 && port < 65536) driver.debugger_port = static_cast<uint16_t>(port);
  }
  return driver;
}

json client_new_session_reply(const DriverSession& driver, const std::string& corral_id, const SessionUrls& urls,
                              std::vector<std::string> warnings) {
  json caps = driver.capabilities;
  if (caps.contains(kChromeOptions) && caps[kChromeOptions].is_object() &&
      caps[kChromeOptions].contains("debuggerAddress")) {
    caps[kChromeOptions].erase("debuggerAddress");
    warnings.push_back("goog:chromeOptions.debuggerAddress dropped: it names the corral host's loopback; use se:cdp");
  }
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
