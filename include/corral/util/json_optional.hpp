// std::optional<T> in nlohmann::json: null when empty. nlohmann 3.11.2
// (Debian 12) has no support of its own; this is the serializer its README
// shows. With it an optional field is written and read like any other:
//   json j = {{"memory_max", limits.memory_max}};
//   limits.memory_max = j.at("memory_max").get<std::optional<uint64_t>>();
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

namespace nlohmann {

template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) {
    if (value) j = *value;
    else j = nullptr;
  }
  static void from_json(const json& j, std::optional<T>& value) {
    if (j.is_null()) value.reset();
    else value = j.get<T>();
  }
};

}  // namespace nlohmann
