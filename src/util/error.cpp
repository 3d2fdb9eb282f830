#include "corral/util/error.hpp"

#include <cstring>

namespace corral {

Error Error::from_errno(int e, const std::string& context) {
  return Error{e, context + ": " + std::strerror(e), {}};
}

Error Error::make(int e, std::string message) {
  return Error{e, std::move(message), {}};
}

}  // namespace corral
