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
#include "corral/session_manager.hpp"
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

int run(const DaemonOptions& options) {
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

  BoundedServer server(api_connection_limits());
  register_routes(server, sessions);
  int port = options.listen_port == 0 ? server.bind_to_any_port(options.listen_host)
                                      : (server.bind_to_port(options.listen_host, options.listen_port) ? options.listen_port : -1);
  if (port < 0) {
    spdlog::critical("cannot listen on {}:{}", options.listen_host, options.listen_port);
    return 1;
  }
  std::thread http([&server] { server.listen_after_bind(); });
  spdlog::info("corrald ready on http://{}:{} (state dir {})", options.listen_host, port, config.state_dir.string());
  sd_notify(0, "READY=1");

  int sig = wait_for_stop_signal();
  spdlog::info("{}: closing {} sessions", sigabbrev_np(sig), sessions.open_count());
  sd_notify(0, "STOPPING=1");
  server.stop();
  http.join();
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
