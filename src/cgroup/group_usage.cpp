#include "corral/cgroup/group_usage.hpp"

#include "corral/cgroup/cgroup.hpp"
#include "corral/util/file_io.hpp"

namespace corral {
namespace {

std::optional<uint64_t> read_number(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return std::nullopt;  // "max": no cap to report
  }
}

std::optional<Pressure> pressure_or_nothing(const std::filesystem::path& cgroup, const char* resource) {
  auto pressure = read_pressure(cgroup, resource);
  if (!pressure) return std::nullopt;
  return *pressure;
}

}  // namespace

GroupUsage read_group_usage(const std::filesystem::path& cgroup) {
  GroupUsage usage;
  usage.memory_current = read_number(cgroup / "memory.current");
  usage.memory_max = read_number(cgroup / "memory.max");
  if (auto stat = read_file(cgroup / "cpu.stat")) usage.cpu_usage_usec = find_keyed_value(*stat, "usage_usec");
  usage.memory_pressure = pressure_or_nothing(cgroup, "memory");
  usage.cpu_pressure = pressure_or_nothing(cgroup, "cpu");
  return usage;
}

}  // namespace corral
