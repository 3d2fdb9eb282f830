// A mutex between processes on one host that needs no file: a bound
// abstract unix socket name (unix(7)) exists once per network namespace,
// and the kernel frees it when its holder closes it or dies, kill -9 too.
// For corralds that share the host's firewall and sysctls (the kernel way
// out), where a file lock would need a writable place that a hardened
// unit (ProtectSystem=strict) may not have.
#pragma once

#include <chrono>
#include <string>

#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

class HostMutex {
 public:
  /// Held until the object goes. ETIMEDOUT when another process held
  /// `name` for all of `patience`.
  static Result<HostMutex> lock(const std::string& name, std::chrono::milliseconds patience);

 private:
  explicit HostMutex(UniqueFd socket) : m_socket(std::move(socket)) {}
  UniqueFd m_socket;
};

}  // namespace corral
