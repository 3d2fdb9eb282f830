// MetricLabel: the one session label (--metrics-label KEY) that splits the
// usage metrics by bot, bounded so that clients cannot blow up the number
// of series: the first `max_values` distinct values are kept for the life
// of the daemon, every later one counts as "other".
#pragma once

#include <map>
#include <set>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

class MetricLabel {
 public:
  /// Value of a session past the limit, or with a value outside the rule.
  static constexpr const char* kOther = "other";

  /// `key` empty: no label, every session counts under "".
  MetricLabel(std::string key, size_t max_values) : m_key(std::move(key)), m_max_values(max_values) {}

  const std::string& key() const { return m_key; }
  bool enabled() const { return !m_key.empty(); }

  /// The value a session with these labels is counted under: its value of
  /// the key if that matches [A-Za-z0-9._-]{1,64} and is one of the first
  /// max_values seen; "" when it has no such label; "other" otherwise.
  /// Not thread-safe: the caller serialises.
  std::string value_for(const std::map<std::string, std::string>& labels);

  /// Every value value_for() has returned (and ""), for series that stay.
  const std::set<std::string>& values_seen() const { return m_seen; }

  static bool valid_value(const std::string& value);
  /// EINVAL unless `key` can name a Prometheus label and is not one that
  /// corral's metrics use already (le, kind, reason, resource, stall).
  static Result<void> check_key(const std::string& key);

 private:
  std::string m_key;
  size_t m_max_values;
  std::set<std::string> m_kept;  ///< client values, at most m_max_values
  std::set<std::string> m_seen{""};
};

}  // namespace corral
