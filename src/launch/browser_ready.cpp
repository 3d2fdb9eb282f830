#include "corral/launch/browser_ready.hpp"

#include <poll.h>
#include <sys/inotify.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "corral/net/loopback_http.hpp"
#include "corral/net/session_connector.hpp"
#include "corral/util/file_io.hpp"
#include "corral/util/json_bounded.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

bool exited(int pidfd) {
  struct pollfd pfd = {pidfd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

Error exited_error() { return Error::make(ECHILD, "the browser exited during start-up (see its log)"); }

using Answer = std::optional<nlohmann::json>;

Error refused(const std::string& path, const std::string& why) {
  return Error::make(ECHILD, "the answer to " + path + " was refused: " + why);
}

// What the session's process answered on `path`: nothing yet (not
// listening, not 200, not JSON: ask again), or the document. An answer
// beyond loopback_get's bounds, or JSON beyond parse_json_bounded's, fails
// the start at once: the process runs as the session's user, and one that
// answers so is hostile.
Result<Answer> get_json(const SessionNetwork& network, uint16_t port, const std::string& path) {
  auto response = loopback_get(network, port, path);
  if (!response && response.error().code == E2BIG) return refused(path, response.error().message);
  if (!response || response->status != 200) return Answer();
  auto body = parse_json_bounded(response->body);
  if (body) return Answer(std::move(*body));
  if (body.error().code == E2BIG) return refused(path, "JSON " + body.error().message);
  return Answer();
}

std::string local_url(const char* scheme, uint16_t port) {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(port);
}

// Chrome writes two short lines; more is not a DevToolsActivePort.
constexpr size_t kMaxActivePortFile = 4096;

// The profile is the session user's, so the browser decides what is there.
// Not there yet: wait. Anything read_file refuses (a symlink, a FIFO, a
// huge file) fails the start at once, instead of hanging on a FIFO until
// --start-timeout or letting root read through a symlink.
Result<std::optional<std::string>> read_active_port(const fs::path& profile) {
  auto text = read_file(profile / "DevToolsActivePort", kMaxActivePortFile);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().code == ENOENT) return std::optional<std::string>();
  return Error::make(ECHILD, "the browser left an unusable DevToolsActivePort: " + text.error().message);
}

}  // namespace

std::optional<std::pair<uint16_t, std::string>> parse_devtools_active_port(const std::string& text) {
  std::istringstream lines(text);
  unsigned port = 0;
  std::string path;
  if (!(lines >> port >> path) || port == 0 || port > 65535 || !path.starts_with("/")) return std::nullopt;
  return std::pair{static_cast<uint16_t>(port), path};
}

namespace {

// The endpoints once DevTools answers on the port the file names; nothing
// while the file is half-written or the port not yet answering.
Result<std::optional<Endpoints>> answering_devtools(const SessionNetwork& network, const std::string& active_port) {
  auto active = parse_devtools_active_port(active_port);
  if (!active) return std::optional<Endpoints>();
  auto version = get_json(network, active->first, "/json/version");
  if (!version) return version.error();
  if (!*version) return std::optional<Endpoints>();
  Endpoints endpoints;
  endpoints.devtools_http = local_url("http", active->first);
  const auto& answer = **version;
  bool named = answer.is_object() && answer.contains("webSocketDebuggerUrl") && answer["webSocketDebuggerUrl"].is_string();
  endpoints.devtools_ws = named ? answer["webSocketDebuggerUrl"].get<std::string>()
                                : local_url("ws", active->first) + active->second;
  return std::optional<Endpoints>(std::move(endpoints));
}

}  // namespace

Result<Endpoints> wait_for_devtools(const SessionNetwork& network, const fs::path& profile, int pidfd, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify.valid() ||
      ::inotify_add_watch(inotify.get(), profile.c_str(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
    return Error::from_errno(errno, "watch '" + profile.string() + "'");
  for (;;) {
    auto text = read_active_port(profile);
    if (!text) return text.error();
    if (*text) {
      auto endpoints = answering_devtools(network, **text);
      if (!endpoints) return endpoints.error();
      if (*endpoints) return **endpoints;
    }
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return Error::make(ETIMEDOUT, "the browser did not open DevTools in time");
    struct pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
    // The cap re-checks now and then: the file may exist before DevTools answers.
    ::poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 200)));
    if (fds[1].revents & POLLIN) return exited_error();
    char drain[4096];
    while (::read(inotify.get(), drain, sizeof drain) > 0) {}
  }
}

Result<void> devtools_still_listening(const SessionNetwork& network, const fs::path& profile, int pidfd) {
  if (exited(pidfd)) return exited_error();
  auto text = read_active_port(profile);
  if (!text) return text.error();
  auto active = *text ? parse_devtools_active_port(**text) : std::nullopt;
  if (!active) return Error::make(ECHILD, "its DevToolsActivePort is gone or changed");
  auto connected = connect_to_session(network, active->first, milliseconds(500));
  if (!connected) return Error::make(ECONNREFUSED, "its DevTools port takes no connection: " + connected.error().message);
  return success();
}

Result<Endpoints> wait_for_webdriver(const SessionNetwork& network, uint16_t port, const std::string& url_base, int pidfd, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  for (;;) {
    auto status = get_json(network, port, url_base + "/status");
    if (!status) return status.error();
    const nlohmann::json* value = *status && (*status)->is_object() && (*status)->contains("value")
                                      ? &(**status)["value"] : nullptr;
    if (value && value->is_object() && value->contains("ready") && (*value)["ready"] == true) {
      Endpoints endpoints;
      endpoints.webdriver = local_url("http", port) + url_base;
      return endpoints;
    }
    if (exited(pidfd)) return exited_error();
    if (steady_clock::now() >= deadline) return Error::make(ETIMEDOUT, "chromedriver did not become ready in time");
    // chromedriver signals readiness only through /status; ask again shortly.
    std::this_thread::sleep_for(milliseconds(50));
  }
}

}  // namespace corral
