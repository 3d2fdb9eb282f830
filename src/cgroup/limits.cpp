#include "corral/cgroup/limits.hpp"

#include <sstream>
#include <vector>

namespace corral {

Limits Limits::with_defaults(const Limits& defaults) const {
  Limits merged = *this;
  if (!merged.memory_max) merged.memory_max = defaults.memory_max;
  if (!merged.memory_high) merged.memory_high = defaults.memory_high;
  if (!merged.cpu_percent) merged.cpu_percent = defaults.cpu_percent;
  if (!merged.tasks_max) merged.tasks_max = defaults.tasks_max;
  return merged;
}

Controllers Controllers::parse(const std::string& text) {
  Controllers found;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    if (word == "memory") found.memory = true;
    if (word == "cpu") found.cpu = true;
    if (word == "pids") found.tasks = true;
  }
  return found;
}

std::string Controllers::describe() const {
  std::string names;
  for (auto [present, name] : {std::pair{memory, "memory"}, {cpu, "cpu"}, {tasks, "pids"}})
    if (present) names += names.empty() ? name : std::string(" ") + name;
  return names.empty() ? "none" : names;
}

Result<void> check_enforceable(const Limits& requested, const Controllers& available) {
  std::vector<std::string> refused;
  if ((requested.memory_max || requested.memory_high) && !available.memory)
    refused.push_back("memory_max/memory_high need the memory controller");
  if (requested.cpu_percent && !available.cpu) refused.push_back("cpu_quota needs the cpu controller");
  if (requested.tasks_max && !available.tasks) refused.push_back("tasks_max needs the pids controller");
  if (refused.empty()) return success();
  std::string message = "this host cannot enforce the requested limits (";
  for (size_t i = 0; i < refused.size(); ++i) message += (i ? "; " : "") + refused[i];
  message += "; controllers available: " + available.describe() +
             "). Run corrald on a cgroup v2 host with those controllers delegated, "
             "or start it with --allow-unenforced-limits to accept limits that will not hold.";
  return Error::make(EOPNOTSUPP, message);
}

}  // namespace corral
