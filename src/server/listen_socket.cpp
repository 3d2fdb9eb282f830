#include "corral/server/listen_socket.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "corral/util/unique_fd.hpp"

namespace corral {

namespace {

bool someone_listens(const std::filesystem::path& path) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return probe.valid() && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

// Clear the path for bind(): true if a stale socket was removed.
Result<bool> clear_socket_path(const std::filesystem::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) < 0) {
    if (errno == ENOENT) return false;
    return Error::from_errno(errno, "stat '" + path.string() + "'");
  }
  if (!S_ISSOCK(info.st_mode))
    return Error::make(EEXIST, "'" + path.string() + "' exists and is not a socket; not touching it");
  if (someone_listens(path))
    return Error::make(EADDRINUSE, "another process listens on '" + path.string() + "' (another corrald?)");
  if (::unlink(path.c_str()) < 0) return Error::from_errno(errno, "remove stale socket '" + path.string() + "'");
  return true;
}

constexpr int kBacklog = 512;

Result<UniqueFd> bound_socket(int family, const sockaddr* address, socklen_t length, const std::string& what) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::from_errno(errno, "socket for " + what);
  int one = 1;
  if (family != AF_UNIX) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), address, length) < 0) return Error::from_errno(errno, "bind " + what);
  if (::listen(fd.get(), kBacklog) < 0) return Error::from_errno(errno, "listen on " + what);
  return fd;
}

Result<ListenSocket> bind_unix(const std::filesystem::path& path) {
  auto directory = path.parent_path();
  if (!std::filesystem::is_directory(directory))
    return Error::make(ENOENT, "directory '" + directory.string() + "' of the API socket does not exist");
  auto replaced = clear_socket_path(path);
  if (!replaced) return replaced.error();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  // bind(2) creates the file with 0777 less the umask; a tight umask for
  // that moment keeps others out before the chmod below. (The umask is
  // process-wide, but nothing else creates files while corrald starts.)
  mode_t previous = ::umask(0177);
  auto bound = bound_socket(AF_UNIX, reinterpret_cast<sockaddr*>(&address), sizeof address,
                            "unix socket '" + path.string() + "'");
  ::umask(previous);
  if (!bound) return bound.error();
  struct stat info {};
  if (::chmod(path.c_str(), kUnixSocketMode) < 0 || ::stat(path.c_str(), &info) < 0)
    return Error::from_errno(errno, "chmod unix socket '" + path.string() + "'");
  return ListenSocket(std::move(*bound), "unix:" + path.string(), path, info.st_dev, info.st_ino, *replaced);
}

// The first address `host` resolves to that binds, as httplib did.
Result<ListenSocket> bind_tcp(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  if (int failed = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); failed != 0)
    return Error::make(EADDRNOTAVAIL, "listen on " + address.describe() + ": " + ::gai_strerror(failed));
  Result<UniqueFd> bound = Error::make(EADDRNOTAVAIL, "listen on " + address.describe() + ": no address");
  for (auto* candidate = found; candidate && !bound; candidate = candidate->ai_next)
    bound = bound_socket(candidate->ai_family, candidate->ai_addr, candidate->ai_addrlen, address.describe());
  ::freeaddrinfo(found);
  if (!bound) return bound.error();
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  ::getsockname(bound->get(), reinterpret_cast<sockaddr*>(&local), &length);
  ListenAddress actual = address;
  actual.port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(local).sin6_port
                                                  : reinterpret_cast<sockaddr_in&>(local).sin_port);
  ListenAddress numeric = actual;
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&local), length, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0)
    numeric.host = host;
  return ListenSocket(std::move(*bound), "http://" + actual.describe(), {}, 0, 0, false, numeric);
}

}  // namespace

ListenSocket::ListenSocket(UniqueFd fd, std::string url, std::filesystem::path unix_path, dev_t device, ino_t inode,
                           bool replaced_stale, std::optional<ListenAddress> bound)
    : m_fd(std::move(fd)),
      m_url(std::move(url)),
      m_is_unix(!unix_path.empty()),
      m_unix_path(std::move(unix_path)),
      m_device(device),
      m_inode(inode),
      m_replaced_stale(replaced_stale),
      m_bound(std::move(bound)) {}

ListenSocket::ListenSocket(ListenSocket&& other) noexcept
    : m_fd(std::move(other.m_fd)),
      m_url(std::move(other.m_url)),
      m_is_unix(other.m_is_unix),
      m_unix_path(std::exchange(other.m_unix_path, {})),
      m_device(other.m_device),
      m_inode(other.m_inode),
      m_replaced_stale(other.m_replaced_stale),
      m_bound(std::move(other.m_bound)) {}

void ListenSocket::remove_file() {
  if (m_unix_path.empty()) return;
  // Only our own socket: another daemon may have replaced it since.
  struct stat info {};
  if (::lstat(m_unix_path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode) && info.st_dev == m_device &&
      info.st_ino == m_inode)
    ::unlink(m_unix_path.c_str());
  m_unix_path.clear();
}

Result<ListenSocket> bind_listen_socket(const ListenAddress& address) {
  return address.is_unix() ? bind_unix(address.unix_path) : bind_tcp(address);
}

}  // namespace corral
