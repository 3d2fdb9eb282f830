#include "corral/server/router.hpp"

#include "corral/server/error_body.hpp"

namespace corral {

HttpResponse RouteRules::refusal(int status, const std::string& code, const std::string& message) const {
  return errors ? errors(status, code, message) : error_response(status, code, message);
}

void Router::add(const std::string& method, const std::string& pattern, PlainHandler handler, RouteRules rules,
                 RunOn run_on) {
  m_routes.push_back({method, std::regex(pattern), std::move(handler), run_on, 0, rules});
}

void Router::add_async(const std::string& method, const std::string& pattern, AsyncHandler handler, RouteRules rules,
                       size_t max_body) {
  m_routes.push_back({method, std::regex(pattern), std::move(handler), RunOn::io_thread, max_body, rules});
}

void Router::add_head(const std::string& method, const std::string& pattern, HeadHandler handler, RouteRules rules) {
  m_routes.push_back({method, std::regex(pattern), std::move(handler), RunOn::io_thread, 0, rules});
}

void Router::add_fallback(const std::string& pattern, RouteRules rules) {
  m_fallbacks.emplace_back(std::regex(pattern), rules);
}

std::optional<Router::Match> Router::find_exact(const std::string& method, const std::string& path,
                                                bool head_routes) const {
  for (const auto& route : m_routes) {
    std::smatch found;
    if (route.method != method || !std::regex_match(path, found, route.pattern)) continue;
    if (!head_routes && std::holds_alternative<HeadHandler>(route.handler)) continue;
    Match match{&route, {}};
    for (const auto& group : found) match.groups.push_back(group.str());
    return match;
  }
  return std::nullopt;
}

std::optional<Router::Match> Router::find(const std::string& method, const std::string& path) const {
  auto match = find_exact(method, path, true);
  if (!match && method == "HEAD") match = find_exact("GET", path, false);
  return match;
}

RouteRules Router::rules_for(const std::optional<Match>& match, const std::string& path) const {
  if (match) return match->route->rules;
  for (const auto& [pattern, rules] : m_fallbacks)
    if (std::regex_match(path, pattern)) return rules;
  return {};
}

}  // namespace corral
