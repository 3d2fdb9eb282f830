#include "corral/api/listen_socket.hpp"

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

Result<ListenSocket> bind_unix(httplib::Server& server, const std::filesystem::path& path) {
  auto directory = path.parent_path();
  if (!std::filesystem::is_directory(directory))
    return Error::make(ENOENT, "directory '" + directory.string() + "' of the API socket does not exist");
  auto replaced = clear_socket_path(path);
  if (!replaced) return replaced.error();
  server.set_address_family(AF_UNIX);
  // bind(2) creates the file with 0777 less the umask; a tight umask for
  // that moment keeps others out before the chmod below. (The umask is
  // process-wide, but nothing else creates files while corrald starts.)
  mode_t previous = ::umask(0177);
  bool bound = server.bind_to_port(path.string(), 1);  // httplib ignores the port for AF_UNIX
  int bind_errno = errno;
  ::umask(previous);
  if (!bound) return Error::from_errno(bind_errno, "bind unix socket '" + path.string() + "'");
  struct stat info {};
  if (::chmod(path.c_str(), kUnixSocketMode) < 0 || ::stat(path.c_str(), &info) < 0)
    return Error::from_errno(errno, "chmod unix socket '" + path.string() + "'");
  return ListenSocket("unix:" + path.string(), path, info.st_dev, info.st_ino, *replaced);
}

Result<ListenSocket> bind_tcp(httplib::Server& server, const ListenAddress& address) {
  int port = address.port == 0 ? server.bind_to_any_port(address.host)
                               : (server.bind_to_port(address.host, address.port) ? address.port : -1);
  if (port < 0) return Error::from_errno(errno, "listen on " + address.describe());
  ListenAddress bound = address;
  bound.port = static_cast<uint16_t>(port);
  return ListenSocket("http://" + bound.describe(), {}, 0, 0, false);
}

}  // namespace

ListenSocket::ListenSocket(std::string url, std::filesystem::path unix_path, dev_t device, ino_t inode,
                           bool replaced_stale)
    : m_url(std::move(url)),
      m_unix_path(std::move(unix_path)),
      m_device(device),
      m_inode(inode),
      m_replaced_stale(replaced_stale) {}

ListenSocket::ListenSocket(ListenSocket&& other) noexcept
    : m_url(std::move(other.m_url)),
      m_unix_path(std::exchange(other.m_unix_path, {})),
      m_device(other.m_device),
      m_inode(other.m_inode),
      m_replaced_stale(other.m_replaced_stale) {}

void ListenSocket::remove_file() {
  if (m_unix_path.empty()) return;
  // Only our own socket: another daemon may have replaced it since.
  struct stat info {};
  if (::lstat(m_unix_path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode) && info.st_dev == m_device &&
      info.st_ino == m_inode)
    ::unlink(m_unix_path.c_str());
  m_unix_path.clear();
}

Result<ListenSocket> bind_listen_socket(httplib::Server& server, const ListenAddress& address) {
  return address.is_unix() ? bind_unix(server, address.unix_path) : bind_tcp(server, address);
}

}  // namespace corral
