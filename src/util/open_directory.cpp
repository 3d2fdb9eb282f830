#include "corral/util/open_directory.hpp"

#include <fcntl.h>

#include <cerrno>
#include <sstream>

namespace corral {

UniqueFd open_directory_nofollow(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    errno = EINVAL;
    return UniqueFd();
  }
  UniqueFd current(::open("/", kOpenDirectoryFlags));
  std::istringstream components(path);
  for (std::string name; current.valid() && std::getline(components, name, '/');) {
    if (name.empty()) continue;  // the leading '/', or "a//b"
    if (name == "." || name == "..") {
      errno = EINVAL;
      return UniqueFd();
    }
    current = UniqueFd(::openat(current.get(), name.c_str(), kOpenDirectoryFlags));
  }
  return current;
}

}  // namespace corral
