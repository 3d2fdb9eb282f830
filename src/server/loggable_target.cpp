#include "corral/server/loggable_target.hpp"

#include <map>

#include "corral/server/http_message.hpp"

namespace corral {

namespace {

// Shorter than any secret corral hands out (128-bit hex: 32) or accepts as
// the token (kMinTokenLength: 16).
constexpr size_t kLongestShown = 15;

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  return out;
}

std::string shown_segment(std::string_view segment) {
  return segment.size() > kLongestShown ? "…" : printable(segment);
}

std::string shown_path(const std::string& path) {
  std::string out;
  for (size_t start = 0; start <= path.size();) {
    auto end = std::min(path.find('/', start), path.size());
    out += shown_segment(std::string_view(path).substr(start, end - start));
    if (end < path.size()) out += '/';
    start = end + 1;
  }
  return out;
}

// A value worth seeing in a log, and never a credential.
bool value_is_shown(const std::string& name, const std::string& value) {
  return (name == "wait" || name == "grace") && value.size() <= kLongestShown;
}

}  // namespace

std::string loggable_target(std::string_view target) {
  std::string path;
  std::multimap<std::string, std::string> params;
  if (!parse_target(std::string(target), path, params)) return "…";
  std::string shown = shown_path(path);
  char separator = '?';
  for (const auto& [name, value] : params) {
    shown += separator + shown_segment(name) + "=" + (value_is_shown(name, value) ? printable(value) : "…");
    separator = '&';
  }
  return shown;
}

}  // namespace corral
