// Prometheus' text exposition format (version 0.0.4): family headers,
// samples with escaped label values, and histograms with cumulative buckets.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace corral::prometheus {

using LabelSet = std::vector<std::pair<std::string, std::string>>;

/// The "# HELP" and "# TYPE" lines that open a family.
void family(std::ostream& out, const std::string& name, const char* type, const char* help);

/// One line: name{labels} value.
void sample(std::ostream& out, const std::string& name, const LabelSet& labels, double value);

/// Numbers as Prometheus reads them: integers without a fraction, others
/// with up to 15 significant digits, "+Inf" for infinity.
std::string format_value(double value);

/// Backslash, double quote and newline escaped, as a label value needs.
std::string escape_label_value(const std::string& value);

class Histogram {
 public:
  /// `bounds`: the upper bounds of the buckets, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  uint64_t count() const { return m_count; }
  /// The _bucket (cumulative, with le), _sum and _count lines.
  void write(std::ostream& out, const std::string& name, const LabelSet& labels) const;

 private:
  std::vector<double> m_bounds;
  std::vector<uint64_t> m_in_bucket;  ///< observations in each bucket alone, not cumulative
  uint64_t m_count = 0;
  double m_sum = 0;
};

}  // namespace corral::prometheus
