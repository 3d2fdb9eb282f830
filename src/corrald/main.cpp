// corrald: wiring only. Options, backend, watcher, session manager, HTTP
// server, signals; the work is done in the core library.
#include <signal.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <thread>

#include "corral/bounded_server.hpp"
#include "corral/browser_launch.hpp"
#include "corral/child_watcher.hpp"
#include "corral/http_api.hpp"
#include "corral/http_auth.hpp"
#include "corral/listen_socket.hpp"
#include "corral/session_manager.hpp"
#include "corral/token_file.hpp"
#include "daemon_options.hpp"

namespace {
using namespace corral;

// Fill in browser paths that were not given; a missing browser only
// disables that kind of session, it does not stop the daemon.
void find_browsers(BrowserPrograms& programs) {
  if (programs.chrome.empty()) {
    if (auto found = find_chrome()) programs.chrome = *found;
    else spdlog::warn("{}", found.error().message);
  }
  if (programs.chromedriver.empty()) {
    if (auto found = find_chromedriver()) programs.chromedriver = *found;
    else spdlog::warn("{}", found.error().message);
  }
}

int wait_for_stop_signal() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  int sig = 0;
  sigwait(&stop, &sig);
  return sig;
}

// The API token, if one is asked for; read before anything else starts, so
// that a bad token file stops corrald at once.
Result<std::optional<std::string>> load_token(const std::filesystem::path& path) {
  if (path.empty()) return std::optional<std::string>();
  auto file = read_token_file(path);
  if (!file) return file.error();
  if (file->group_can_read)
    spdlog::warn("token file {} is readable by its group: every member of that group can use the API",
                 path.string());
  return std::optional<std::string>(std::move(file->token));
}

int run(const DaemonOptions& options) {
  auto token = load_token(options.token_file);
  if (!token) {
    spdlog::critical("{}", token.error().message);
    return 1;
  }
  // Bind first: a second corrald started by mistake on the same address
  // must stop here, before it removes "leftover" sessions that are the
  // first one's. Connections wait in the backlog until the routes are in.
  BoundedServer server(api_connection_limits());
  auto listener = bind_listen_socket(server, options.listen);
  if (!listener) {
    spdlog::critical("cannot serve the API: {}", listener.error().message);
    return 1;
  }
  if (listener->replaced_stale()) spdlog::info("removed the stale API socket of an earlier run");
  // Orphans of session processes (crashpad handlers double-fork) come to us,
  // not PID 1, and the watcher reaps them at once.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto selection = select_backend(options.backend, options.cgroup_root);
  if (!selection) {
    spdlog::critical("{}", selection.error().message);
    return 1;
  }
  for (const auto& reason : selection->passed_over) spdlog::info("backend passed over: {}", reason);
  auto& backend = *selection->backend;
  spdlog::info("backend {} at {}, controllers: {}", backend.kind(), backend.sessions_root().string(),
               backend.controllers().describe());

  auto config = options.sessions;
  find_browsers(config.programs);
  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) {
    spdlog::critical("cannot create state dir {}: {}", config.state_dir.string(), ec.message());
    return 1;
  }
  ChildWatcher watcher;
  if (auto started = watcher.start(); !started) {
    spdlog::critical("{}", started.error().message);
    return 1;
  }
  SessionManager sessions(backend, watcher, config);
  auto leftovers = sessions.remove_leftovers();
  if (!leftovers) spdlog::error("removing leftovers of an earlier run failed: {}", leftovers.error().message);
  else if (*leftovers) spdlog::info("removed {} leftover sessions of an earlier run", *leftovers);

  register_routes(server, sessions);
  if (*token) require_token(server, **token);
  std::thread http([&server] { server.listen_after_bind(); });
  spdlog::info("corrald ready on {} (state dir {}; {})", listener->url(), config.state_dir.string(),
               *token ? "API token required" : "no API token");
  sd_notify(0, "READY=1");

  int sig = wait_for_stop_signal();
  spdlog::info("{}: closing {} sessions", sigabbrev_np(sig), sessions.open_count());
  sd_notify(0, "STOPPING=1");
  server.stop();
  http.join();
  listener->remove_file();
  sessions.close_all();
  watcher.stop();
  spdlog::info("corrald stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  corral::block_daemon_signals();
  auto options = corral::parse_daemon_options(argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("corrald"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  return run(options);
}
