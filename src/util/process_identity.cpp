#include "corral/util/process_identity.hpp"

#include <sstream>

#include "corral/util/file_io.hpp"

namespace corral {

Result<uint64_t> parse_process_start_time(const std::string& stat) {
  // "PID (comm) S ..." where comm may hold spaces and parentheses: the
  // fields are counted from the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return Error::make(EBADMSG, "not a /proc/PID/stat line");
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  // Fields after comm start at 3 (state); starttime is 22.
  for (int number = 3; number < 22; ++number)
    if (!(fields >> field)) return Error::make(EBADMSG, "short /proc/PID/stat line");
  uint64_t start_time = 0;
  if (!(fields >> start_time)) return Error::make(EBADMSG, "no start time in /proc/PID/stat");
  return start_time;
}

Result<uint64_t> process_start_time(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return stat.error();
  return parse_process_start_time(*stat);
}

}  // namespace corral
