#include "corral/session/metric_label.hpp"

#include <cctype>

namespace corral {

bool MetricLabel::valid_value(const std::string& value) {
  if (value.empty() || value.size() > 64) return false;
  for (unsigned char c : value)
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

Result<void> MetricLabel::check_key(const std::string& key) {
  bool name_shape = !key.empty() && (std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_');
  for (unsigned char c : key) name_shape = name_shape && (std::isalnum(c) || c == '_');
  if (!name_shape || key.starts_with("__"))
    return Error::make(EINVAL, "'" + key + "' cannot name a Prometheus label: use [A-Za-z_][A-Za-z0-9_]*, not "
                                           "starting with __");
  for (const char* taken : {"le", "kind", "reason", "resource", "stall", "job", "instance"})
    if (key == taken) return Error::make(EINVAL, "'" + key + "' is a label corral's metrics (or Prometheus) use already");
  return success();
}

std::string MetricLabel::value_for(const std::map<std::string, std::string>& labels) {
  if (!enabled()) return "";
  auto it = labels.find(m_key);
  if (it == labels.end()) return "";
  const std::string& value = it->second;
  std::string counted = kOther;
  if (valid_value(value) && (m_kept.count(value) || m_kept.size() < m_max_values)) {
    m_kept.insert(value);
    counted = value;
  }
  m_seen.insert(counted);
  return counted;
}

}  // namespace corral
