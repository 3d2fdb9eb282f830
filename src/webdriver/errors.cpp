#include "corral/webdriver/errors.hpp"

#include <nlohmann/json.hpp>

#include "corral/webdriver/paths.hpp"

namespace corral {

std::string webdriver_paths_pattern() {
  return "(" + std::string(kHubPrefix) + ")?/(status|session(/.*)?)";
}

RouteRules webdriver_rules(Access access) { return {access, w3c_refusal}; }

HttpResponse w3c_refusal(int status, const std::string& code, const std::string& message) {
  return webdriver_error(status, webdriver_error_name_for(status), code + ": " + message);
}

HttpResponse webdriver_json(int status, const nlohmann::json& body) {
  HttpResponse res;
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json; charset=utf-8");
  res.set_header("Cache-Control", "no-cache");
  return res;
}

HttpResponse webdriver_error(int status, const std::string& error, const std::string& message) {
  return webdriver_json(status, {{"value", {{"error", error}, {"message", message}, {"stacktrace", ""}}}});
}

HttpResponse invalid_session_id(const std::string& message) { return webdriver_error(404, "invalid session id", message); }

HttpResponse invalid_argument(const std::string& message) { return webdriver_error(400, "invalid argument", message); }

HttpResponse session_not_created(const std::string& message) {
  return webdriver_error(500, "session not created", message);
}

std::string webdriver_error_name_for(int status) {
  switch (status) {
    case 400: case 413: case 415: case 431: case 414: return "invalid argument";
    case 404: return "unknown command";
    case 405: return "unknown method";
    case 408: return "timeout";
    default: return "unknown error";  // 401, 403, 429, 5xx: no closer W3C error
  }
}

HttpResponse new_session_failure(const Error& error) {
  switch (error.code) {
    case EINVAL: case EBADMSG: case EOPNOTSUPP: return invalid_argument(error.message);
    case ENOSPC: return session_not_created("no room for a new session within --new-session-wait: " + error.message);
    default: return session_not_created(error.message);
  }
}

}  // namespace corral
