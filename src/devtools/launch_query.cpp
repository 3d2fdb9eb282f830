#include "corral/devtools/launch_query.hpp"

#include <nlohmann/json.hpp>

#include "corral/api/open_request.hpp"

namespace corral {
using nlohmann::json;

namespace {

constexpr std::string_view kLabelPrefix = "labels.";

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() < 19 && text.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Result<SessionRequest> parse_launch_query(const std::multimap<std::string, std::string>& params) {
  json body = json::object();
  for (const auto& [name, value] : params) {
    if (name == "token" || name == "ticket") continue;  // credentials, checked before
    if (name == "args") {
      body["args"].push_back(value);
    } else if (name.rfind(kLabelPrefix, 0) == 0) {
      body["labels"][name.substr(kLabelPrefix.size())] = value;
    } else if (body.contains(name)) {
      return Error::make(EBADMSG, "field '" + name + "' is given twice");
    } else {
      body[name] = name == "tasks_max" && all_digits(value) ? json(std::stoull(value)) : json(value);
    }
  }
  return parse_session_request(body.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace corral
