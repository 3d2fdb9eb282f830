#include "corral/devtools/launch_query.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "corral/api/open_request.hpp"

namespace corral {
using nlohmann::json;

namespace {

constexpr std::string_view kLabelPrefix = "labels.";

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() < 19 && text.find_first_not_of("0123456789") == std::string::npos;
}

// egress_allow=a,b and egress_deny=c (repeatable): the open request's
// "egress" lists, comma-separated as a URL query carries them well.
void add_egress_entries(json& body, const std::string& list, const std::string& value) {
  json& entries = body["egress"][list];
  if (entries.is_null()) entries = json::array();
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = std::min(value.find(',', start), value.size());
    entries.push_back(value.substr(start, comma - start));
    start = comma + 1;
  }
}

}  // namespace

Result<SessionRequest> parse_launch_query(const std::multimap<std::string, std::string>& params) {
  json body = json::object();
  for (const auto& [name, value] : params) {
    if (name == "token" || name == "ticket") continue;  // credentials, checked before
    if (name == "args") {
      body["args"].push_back(value);
    } else if (name == "egress_allow" || name == "egress_deny") {
      add_egress_entries(body, name.substr(7), value);
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
