#include "corral/launch/chromedriver_guard.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral {
namespace fs = std::filesystem;

std::vector<std::string> chromedriver_guard_command(const fs::path& nft, uint16_t port) {
  // One argument, several commands: nft reads them as one transaction.
  return {nft.string(),
          "add table inet corral_session ; "
          "add chain inet corral_session output { type filter hook output priority 0 ; policy accept ; } ; "
          "add rule inet corral_session output tcp dport " + std::to_string(port) +
              " meta skuid != 0 reject with tcp reset"};
}

namespace {

// The command, run once in a network namespace of its own (so nothing of
// the host's ruleset is touched): its exit status.
int try_in_scratch_namespace(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
    if (::unshare(CLONE_NEWNET) < 0) _exit(126);
    ::execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

Result<fs::path> usable_nft() {
  fs::path nft;
  for (const char* candidate : {"/usr/sbin/nft", "/sbin/nft"})
    if (::access(candidate, X_OK) == 0) {
      nft = candidate;
      break;
    }
  if (nft.empty()) return Error::make(EOPNOTSUPP, "no nft binary (Debian: apt install nftables)");
  int status = try_in_scratch_namespace(chromedriver_guard_command(nft, 9515));
  if (status != 0)
    return Error::make(EOPNOTSUPP, nft.string() + " could not install a rule in a new network namespace (exit " +
                                       std::to_string(status) + "; a kernel without nf_tables?)");
  return nft;
}

}  // namespace corral
