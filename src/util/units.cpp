#include "corral/util/units.hpp"

#include <charconv>
#include <limits>
#include <string>

namespace corral {
namespace {

Error invalid(std::string_view what, std::string_view text) {
  return Error::make(EINVAL, std::string(what) + " '" + std::string(text) + "'");
}

// Multiplier for a size suffix such as "", "K", "Mi", "GiB"; 0 when unknown.
uint64_t size_multiplier(std::string_view suffix) {
  if (suffix.ends_with("iB")) suffix.remove_suffix(2);
  else if (suffix.ends_with("i") || suffix.ends_with("B")) suffix.remove_suffix(1);
  if (suffix.empty()) return 1;
  if (suffix.size() != 1) return 0;
  switch (suffix[0]) {
    case 'K': case 'k': return uint64_t{1} << 10;
    case 'M': case 'm': return uint64_t{1} << 20;
    case 'G': case 'g': return uint64_t{1} << 30;
    case 'T': case 't': return uint64_t{1} << 40;
    default: return 0;
  }
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc::result_out_of_range) return invalid("size is too large:", text);
  if (ec != std::errc() || end == text.data()) return invalid("not a size (use e.g. 512M or 2G):", text);
  uint64_t multiplier = size_multiplier(text.substr(end - text.data()));
  if (multiplier == 0) return invalid("unknown size suffix (use K, M, G or T):", text);
  if (number > std::numeric_limits<uint64_t>::max() / multiplier)
    return invalid("size is too large:", text);
  return number * multiplier;
}

Result<uint64_t> parse_cpu_percent(std::string_view text) {
  if (text.ends_with("%")) text.remove_suffix(1);
  uint64_t percent = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), percent);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return invalid("not a CPU quota (use e.g. 150%):", text);
  if (percent < 1 || percent > 100000) return invalid("CPU quota out of range 1%..100000%:", text);
  return percent;
}

}  // namespace corral

namespace corral {

Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::chrono::milliseconds max) {
  double scale = 1000;  // plain numbers are seconds
  std::string_view number = text;
  if (number.ends_with("ms")) scale = 1, number.remove_suffix(2);
  else if (number.ends_with("s")) number.remove_suffix(1);
  else if (number.ends_with("m")) scale = 60000, number.remove_suffix(1);
  else if (number.ends_with("h")) scale = 3600000, number.remove_suffix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || number.empty() || !(value >= 0))
    return Error::make(EINVAL, "not a duration (use e.g. 2, 500ms, 2s): '" + std::string(text) + "'");
  if (value * scale > static_cast<double>(max.count()))
    return Error::make(EINVAL, "duration '" + std::string(text) + "' is above the maximum of " +
                                   std::to_string(max.count()) + " ms");
  return std::chrono::milliseconds(static_cast<int64_t>(value * scale));
}

}  // namespace corral
