#include "corral/devtools/paths.hpp"

#include <nlohmann/json.hpp>

#include "corral/util/json_bounded.hpp"

namespace corral {
using nlohmann::json;

namespace {

bool is_hex(std::string_view text, size_t size) {
  return text.size() == size && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Point one URL field of a /json answer at corral.
Result<void> rewrite_field(const std::string& key, json& value, const std::string& browser,
                           const PublicBase& base, const std::string& session_path) {
  if (!value.is_string()) return success();
  auto text = value.get<std::string>();
  if (key == "webSocketDebuggerUrl") {
    auto own = "ws://" + browser + "/";
    if (text.rfind(own, 0) != 0) return Error::make(EBADMSG, "the browser named a WebSocket elsewhere: " + text);
    value = base.ws_url(session_path) + text.substr(own.size() - 1);
  } else if (key == "devtoolsFrontendUrl" || key == "devtoolsFrontendUrlCompat") {
    auto at = text.find("ws=" + browser + "/");
    if (at != std::string::npos)
      text.replace(at, 3 + browser.size(), (base.scheme == "https" ? "wss=" : "ws=") + base.authority + base.prefix +
                                                 session_path);
    if (text.rfind("/", 0) == 0) text = base.prefix + session_path + text;  // relative to the browser
    value = text;
  }
  return success();
}

Result<void> rewrite_tree(json& node, const std::string& browser, const PublicBase& base,
                          const std::string& session_path) {
  if (node.is_array())
    for (auto& item : node) CORRAL_TRY(rewrite_tree(item, browser, base, session_path));
  if (node.is_object())
    for (auto& [key, value] : node.items()) {
      CORRAL_TRY(rewrite_field(key, value, browser, base, session_path));
      if (value.is_structured()) CORRAL_TRY(rewrite_tree(value, browser, base, session_path));
    }
  return success();
}

}  // namespace

std::optional<DevToolsTarget> parse_devtools_target(std::string_view target) {
  if (target.substr(0, kDevToolsPrefix.size()) != kDevToolsPrefix) return std::nullopt;
  auto rest = target.substr(kDevToolsPrefix.size());
  auto id = rest.substr(0, rest.find('/'));
  if (!is_hex(id, 12) || id.size() == rest.size()) return std::nullopt;
  rest.remove_prefix(id.size() + 1);
  auto secret = rest.substr(0, rest.find_first_of("/?"));
  if (!is_hex(secret, 32)) return std::nullopt;
  rest.remove_prefix(secret.size());
  std::string forwarded(rest);
  if (forwarded.empty() || forwarded.front() == '?') forwarded.insert(0, "/");
  return DevToolsTarget{std::string(id), std::string(secret), forwarded};
}

Result<std::string> rewrite_devtools_json(std::string_view body, uint16_t browser_port, const PublicBase& base,
                                          const std::string& session_path) {
  // Bounded: the browser runs as the session's user, and rewrite_tree (like
  // any walk of a tree) recurses once per level.
  auto tree = parse_json_bounded(body);
  if (!tree && tree.error().code == E2BIG) return Error::make(EBADMSG, "the browser's answer is JSON " + tree.error().message);
  if (!tree) return std::string(body);
  CORRAL_TRY(rewrite_tree(*tree, "127.0.0.1:" + std::to_string(browser_port), base, session_path));
  return tree->dump(2);
}

}  // namespace corral
