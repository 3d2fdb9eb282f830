#include "corral/util/json_bounded.hpp"

#include <string>

namespace corral {
namespace {
using nlohmann::json;

// Thrown from the parser callback to stop the parse at once; nlohmann
// lets it through and frees what it built so far (at most max_depth deep,
// so that is safe too).
struct OverLimit {
  std::string what;
};

bool opens_container(json::parse_event_t event) {
  return event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
}

// One value more: a container as it opens, a scalar as it is read. (A key
// is not a value of its own: its string lives in the object's node.)
bool adds_value(json::parse_event_t event) { return opens_container(event) || event == json::parse_event_t::value; }

}  // namespace

Result<json> parse_json_bounded(std::string_view text, JsonLimits limits) {
  size_t values = 0;
  // `depth` is how many containers are open around this event, so a
  // container opening at depth d makes d + 1.
  auto check = [&](int depth, json::parse_event_t event, json&) {
    if (opens_container(event) && static_cast<size_t>(depth) >= limits.max_depth)
      throw OverLimit{"nested deeper than " + std::to_string(limits.max_depth) + " levels"};
    if (adds_value(event) && ++values > limits.max_values)
      throw OverLimit{"with more than " + std::to_string(limits.max_values) + " values"};
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const OverLimit& over) {
    return Error::make(E2BIG, over.what);
  } catch (const json::parse_error& e) {
    return Error::make(EBADMSG, "not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception& e) {
    return Error::make(EBADMSG, "not usable JSON (nlohmann error " + std::to_string(e.id) + ")");
  }
}

}  // namespace corral
