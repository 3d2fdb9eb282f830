// Waiting until a freshly started browser answers, so that the client gets
// endpoints it can use at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "corral/net/session_connector.hpp"
#include "corral/util/error.hpp"

namespace corral {

struct Endpoints {
  std::optional<std::string> devtools_http;  ///< "http://127.0.0.1:PORT"
  std::optional<std::string> devtools_ws;    ///< browser-level CDP websocket
  std::optional<std::string> webdriver;      ///< "http://127.0.0.1:PORT/<url base secret>"
};

/// Chrome writes "<port>\n<ws path>" to <profile>/DevToolsActivePort once
/// DevTools listens; wait for it (inotify) and for /json/version to answer
/// on that port of `network`.
/// ECHILD if the browser exits first, or at once if the file is there but
/// not a regular file of at most 4 KiB (a symlink or a FIFO the session
/// planted is never followed or waited on); ETIMEDOUT after `timeout`.
Result<Endpoints> wait_for_devtools(const SessionNetwork& network, const std::filesystem::path& profile, int pidfd,
                                    std::chrono::milliseconds timeout);

/// What a thawed warm browser must pass before it is handed out: its process
/// lives and the DevTools port its DevToolsActivePort names takes a
/// connection in `network` (ECHILD, ECONNREFUSED otherwise). Not an HTTP
/// answer: Chrome takes 12-30 ms for /json/version on this machine, most
/// of a claim, and a browser that was frozen since it last answered cannot
/// have changed what it answers (an exit, an OOM kill, show here).
Result<void> devtools_still_listening(const SessionNetwork& network, const std::filesystem::path& profile, int pidfd);

/// Poll chromedriver's GET <url_base>/status (in `network`) until it says ready.
Result<Endpoints> wait_for_webdriver(const SessionNetwork& network, uint16_t port, const std::string& url_base, int pidfd,
                                     std::chrono::milliseconds timeout);

/// Parse a DevToolsActivePort text: the port, and the websocket path.
std::optional<std::pair<uint16_t, std::string>> parse_devtools_active_port(const std::string& text);

}  // namespace corral
