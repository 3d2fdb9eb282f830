#include "corral/cgroup/pressure.hpp"

#include <sstream>

#include "corral/util/file_io.hpp"

namespace corral {
namespace {

// "avg10=0.12 avg60=0.05 avg300=0.00 total=123456": every field must be there.
std::optional<PressureLine> parse_fields(std::istringstream& fields) {
  PressureLine line;
  int found = 0;
  for (std::string field; fields >> field;) {
    auto eq = field.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string name = field.substr(0, eq), value = field.substr(eq + 1);
    try {
      if (name == "avg10") line.avg10 = std::stod(value), ++found;
      else if (name == "avg60") line.avg60 = std::stod(value), ++found;
      else if (name == "avg300") line.avg300 = std::stod(value), ++found;
      else if (name == "total") line.total_usec = std::stoull(value), ++found;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (found != 4) return std::nullopt;
  return line;
}

}  // namespace

Result<Pressure> parse_pressure(const std::string& text) {
  Pressure pressure;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    auto parsed = parse_fields(fields);
    if (!parsed) continue;
    if (kind == "some") pressure.some = parsed;
    if (kind == "full") pressure.full = parsed;
  }
  if (!pressure.some && !pressure.full) return Error::make(EINVAL, "no pressure line in '" + text + "'");
  return pressure;
}

Result<Pressure> read_pressure(const std::filesystem::path& cgroup, const std::string& resource) {
  CORRAL_TRY_ASSIGN(auto text, read_file(cgroup / (resource + ".pressure")));
  return parse_pressure(text);
}

}  // namespace corral
