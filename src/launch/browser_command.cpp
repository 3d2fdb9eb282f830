#include "corral/launch/browser_command.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "corral/util/unique_fd.hpp"

namespace corral {
namespace fs = std::filesystem;

namespace {

Result<fs::path> find_program(const std::vector<fs::path>& candidates, const std::string& what) {
  std::string tried;
  for (const auto& candidate : candidates) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    tried += (tried.empty() ? "" : ", ") + candidate.string();
  }
  return Error::make(ENOENT, "no " + what + " found (looked at " + tried + "); install Debian's package or pass its path");
}

std::vector<std::string> session_environment(const SessionDirs& dirs) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dirs.home.string(), "TMPDIR=" + dirs.tmp.string(),
          "XDG_CONFIG_HOME=" + (dirs.home / ".config").string(), "XDG_CACHE_HOME=" + (dirs.home / ".cache").string(),
          "LANG=C.UTF-8"};
}

}  // namespace

Result<fs::path> find_chrome() {
  return find_program({"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
                       "/usr/bin/google-chrome-stable", "/opt/google/chrome/chrome"},
                      "Chrome/Chromium (--browser)");
}

// Read what `chrome --version` prints, within 5 s. The program runs in a
// process group of its own, killed whole afterwards: a program that is not
// Chrome (a wrapper, a stub) may start children that would hold the pipe.
std::string browser_version(const fs::path& chrome) {
  int out[2];
  if (chrome.empty() || ::pipe2(out, O_CLOEXEC) != 0) return "";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out[1], STDOUT_FILENO);
    ::execl(chrome.c_str(), chrome.c_str(), "--version", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (pid > 0 && text.find('\n') == std::string::npos && text.size() < 256) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd readable{out[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[256];
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (pid > 0) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  // "Chromium 156.0.8078.73 built on Debian GNU/Linux 12 (bookworm)"
  auto first = text.find_first_of("0123456789");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_first_not_of("0123456789.", first) - first);
}

Result<fs::path> find_chromedriver() {
  return find_program({"/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver", "/usr/local/bin/chromedriver"},
                      "chromedriver (--chromedriver)");
}

std::vector<std::string> chrome_base_flags(const SessionDirs& dirs, uid_t browser_uid) {
  std::vector<std::string> flags = {"--user-data-dir=" + dirs.profile.string(), "--remote-debugging-port=0",
                                    "--remote-debugging-address=127.0.0.1"};
  for (auto& flag : chrome_driven_flags(browser_uid)) flags.push_back(std::move(flag));
  return flags;
}

std::vector<std::string> chrome_driven_flags(uid_t browser_uid) {
  std::vector<std::string> flags = {
      "--headless=new", "--no-first-run", "--no-default-browser-check",
      // Against background throttling: a headless page a bot drives is
      // never "visible", and throttled timers make bots flaky.
      "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
      "--disable-renderer-backgrounding", "--disable-features=TranslateUI", "--disable-component-update",
      // No traffic to Google's services: on a closed network Chrome would
      // retry these connections for the whole session.
      "--disable-background-networking", "--disable-sync", "--disable-default-apps",
      "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--metrics-recording-only",
      "--disable-gpu"};
  // Chrome's own sandbox refuses to start as root (--session-user root); the
  // cgroup is the only boundary then.
  if (browser_uid == 0) flags.push_back("--no-sandbox");
  return flags;
}

LaunchSpec chrome_launch(const fs::path& binary, const SessionDirs& dirs, const std::vector<std::string>& client_args,
                         const std::optional<Credentials>& run_as) {
  LaunchSpec spec;
  spec.argv = {binary.string()};
  for (auto& flag : chrome_base_flags(dirs, run_as ? run_as->uid : ::geteuid())) spec.argv.push_back(std::move(flag));
  spec.argv.insert(spec.argv.end(), client_args.begin(), client_args.end());
  spec.argv.push_back("about:blank");
  spec.environment = session_environment(dirs);
  spec.working_directory = dirs.tmp;
  spec.log_file = dirs.log();
  spec.run_as = run_as;
  return spec;
}

// No --allowed-ips: with it, chromedriver binds the wildcard address and
// only its own allowlist answers another host; without it, it binds
// 127.0.0.1 and ::1 alone. The secret --url-base is what keeps pages and
// other local clients that learn the port out.
LaunchSpec chromedriver_launch(const fs::path& binary, const SessionDirs& dirs, uint16_t port,
                               const std::string& url_base, const std::vector<std::string>& client_args,
                               const std::optional<Credentials>& run_as) {
  LaunchSpec spec;
  spec.argv = {binary.string(), "--port=" + std::to_string(port), "--url-base=" + url_base};
  spec.argv.insert(spec.argv.end(), client_args.begin(), client_args.end());
  spec.environment = session_environment(dirs);
  spec.working_directory = dirs.tmp;
  spec.log_file = dirs.log();
  spec.run_as = run_as;
  return spec;
}

Result<uint16_t> pick_free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::from_errno(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) < 0)
    return Error::from_errno(errno, "pick a free port");
  return ntohs(address.sin_port);
}

}  // namespace corral
