#include "corral/server/router.hpp"

namespace corral {

void Router::add(const std::string& method, const std::string& pattern, PlainHandler handler, RunOn run_on) {
  m_routes.push_back({method, std::regex(pattern), std::move(handler), run_on});
}

void Router::add_async(const std::string& method, const std::string& pattern, AsyncHandler handler, size_t max_body) {
  m_routes.push_back({method, std::regex(pattern), std::move(handler), RunOn::io_thread, max_body});
}

void Router::add_head(const std::string& method, const std::string& pattern, HeadHandler handler) {
  m_routes.push_back({method, std::regex(pattern), std::move(handler), RunOn::io_thread});
}

std::optional<Router::Match> Router::find_exact(const std::string& method, const std::string& path) const {
  for (const auto& route : m_routes) {
    std::smatch found;
    if (route.method != method || !std::regex_match(path, found, route.pattern)) continue;
    Match match{&route, {}};
    for (const auto& group : found) match.groups.push_back(group.str());
    return match;
  }
  return std::nullopt;
}

std::optional<Router::Match> Router::find(const std::string& method, const std::string& path) const {
  auto match = find_exact(method, path);
  if (!match && method == "HEAD") match = find_exact("GET", path);
  return match;
}

}  // namespace corral
