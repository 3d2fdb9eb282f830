#include "corral/launch/own_network.hpp"

#include <linux/capability.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace corral {
namespace fs = std::filesystem;

namespace {

std::string missing_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) < 0) return "the capabilities could not be read";
  auto has = [&](int cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
  std::string missing;
  for (auto [cap, name] : {std::pair{CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}, std::pair{CAP_NET_ADMIN, "CAP_NET_ADMIN"},
                           std::pair{CAP_SYS_PTRACE, "CAP_SYS_PTRACE"}})
    if (!has(cap)) missing += (missing.empty() ? "" : ", ") + std::string(name);
  return missing;
}

// What the gate will do, tried once: a seccomp filter (systemd's
// RestrictNamespaces=, a container's profile) can forbid it to root.
Result<void> try_unshare() {
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) _exit(::unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC) == 0 ? 0 : errno & 0x7f);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return success();
  int error = WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
  return Error::make(EPERM, std::string("unshare(CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWIPC) failed: ") + strerror(error));
}

bool write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  bool written = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) ::close(fd);
  return written;
}

// What the gate does for an unprivileged corrald, tried once: the kernel
// may forbid user namespaces to unprivileged users (user.max_user_namespaces
// = 0, Debian's old kernel.unprivileged_userns_clone, an AppArmor
// restriction), or a seccomp filter the namespaces.
Result<void> try_unshare_in_own_user_namespace() {
  auto uid_map = std::to_string(::getuid()) + " " + std::to_string(::getuid()) + " 1";
  auto gid_map = std::to_string(::getgid()) + " " + std::to_string(::getgid()) + " 1";
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) {
    if (::unshare(CLONE_NEWUSER) < 0) _exit(1);
    if (!write_file("/proc/self/setgroups", "deny") || !write_file("/proc/self/uid_map", uid_map) ||
        !write_file("/proc/self/gid_map", gid_map))
      _exit(2);
    _exit(::unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC) == 0 ? 0 : 3);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return success();
  static const char* const steps[] = {"", "unshare(CLONE_NEWUSER)", "writing the new user namespace's maps",
                                      "unshare(CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWIPC) in it"};
  int step = WIFEXITED(status) && WEXITSTATUS(status) <= 3 ? WEXITSTATUS(status) : 3;
  return Error::make(EPERM, std::string(steps[step]) + " failed");
}

// A session's /tmp, /var/tmp, /dev/shm and /run/lock are empty tmpfs.
std::string hidden_from_sessions(const fs::path& path) {
  if (path.empty()) return "";
  auto normal = fs::weakly_canonical(path);
  for (const char* dir : {"/tmp", "/var/tmp", "/dev/shm", "/run/lock"}) {
    auto relative = normal.lexically_relative(dir);
    if (!relative.empty() && *relative.begin() != "..") return dir;
  }
  return "";
}

Result<void> check_state_and_programs_visible(const HostLauncherConfig& config) {
  for (const auto& path : {config.state_dir, config.programs.chrome, config.programs.chromedriver})
    if (auto dir = hidden_from_sessions(path); !dir.empty())
      return Error::make(EINVAL, "--session-network own: '" + path.string() + "' is under " + dir +
                                     ", which every session gets an empty tmpfs of its own on; put it elsewhere");
  return success();
}

}  // namespace

Result<void> check_own_user_network(const HostLauncherConfig& config) {
  CORRAL_TRY(try_unshare_in_own_user_namespace());
  return check_state_and_programs_visible(config);
}

Result<void> check_own_network(const HostLauncherConfig& config) {
  if (auto missing = missing_capabilities(); !missing.empty())
    return Error::make(EPERM, "--session-network own needs " + missing + " (run corrald as root, or add them to its "
                              "unit's CapabilityBoundingSet=)");
  CORRAL_TRY(try_unshare());
  return check_state_and_programs_visible(config);
}

}  // namespace corral
