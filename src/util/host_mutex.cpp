#include "corral/util/host_mutex.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace corral {

Result<HostMutex> HostMutex::lock(const std::string& name, std::chrono::milliseconds patience) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof address.sun_path) return Error::make(ENAMETOOLONG, "host mutex name too long: " + name);
  std::memcpy(address.sun_path + 1, name.data(), name.size());  // sun_path[0] == 0: abstract
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (true) {
    UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket.valid()) return Error::from_errno(errno, "socket for host mutex " + name);
    if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), length) == 0) return HostMutex(std::move(socket));
    if (errno != EADDRINUSE) return Error::from_errno(errno, "bind host mutex " + name);
    if (std::chrono::steady_clock::now() >= deadline)
      return Error::make(ETIMEDOUT, "another process held " + name + " for " + std::to_string(patience.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace corral
