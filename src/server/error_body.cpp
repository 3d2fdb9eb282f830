#include "corral/server/error_body.hpp"

namespace corral {

nlohmann::json error_json(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

std::string json_text(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse error_response(int status, const std::string& code, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.set_content(json_text(error_json(code, message)), "application/json");
  return response;
}

}  // namespace corral
