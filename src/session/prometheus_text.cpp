#include "corral/session/prometheus_text.hpp"

#include <cmath>
#include <cstdio>

namespace corral::prometheus {

void family(std::ostream& out, const std::string& name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

std::string format_value(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[32];
  std::snprintf(text, sizeof text, "%.15g", value);
  return text;
}

std::string escape_label_value(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '"') escaped += "\\\"";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  return escaped;
}

void sample(std::ostream& out, const std::string& name, const LabelSet& labels, double value) {
  out << name;
  if (!labels.empty()) {
    out << '{';
    for (size_t i = 0; i < labels.size(); ++i)
      out << (i ? "," : "") << labels[i].first << "=\"" << escape_label_value(labels[i].second) << '"';
    out << '}';
  }
  out << ' ' << format_value(value) << '\n';
}

Histogram::Histogram(std::vector<double> bounds) : m_bounds(std::move(bounds)), m_in_bucket(m_bounds.size() + 1) {}

void Histogram::observe(double value) {
  size_t bucket = 0;
  while (bucket < m_bounds.size() && value > m_bounds[bucket]) ++bucket;
  ++m_in_bucket[bucket];
  ++m_count;
  m_sum += value;
}

void Histogram::write(std::ostream& out, const std::string& name, const LabelSet& labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= m_bounds.size(); ++i) {
    cumulative += m_in_bucket[i];
    LabelSet with_bound = labels;
    with_bound.emplace_back("le", i < m_bounds.size() ? format_value(m_bounds[i]) : "+Inf");
    sample(out, name + "_bucket", with_bound, static_cast<double>(cumulative));
  }
  sample(out, name + "_sum", labels, m_sum);
  sample(out, name + "_count", labels, static_cast<double>(m_count));
}

}  // namespace corral::prometheus
