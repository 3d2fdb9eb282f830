// How a session's browser is started: the program, its flags and its
// environment. Nothing here is chosen by the client except the allowlisted
// extra flags.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "corral/launch/chrome_flags.hpp"
#include "corral/launch/gated_child.hpp"
#include "corral/launch/session_dirs.hpp"

namespace corral {

struct BrowserPrograms {
  std::filesystem::path chrome;        ///< --browser, or found on the host
  std::filesystem::path chromedriver;  ///< --chromedriver, or found on the host
};

/// The first of the usual Chrome/Chromium (or chromedriver) install paths that
/// exists and is executable; ENOENT listing where it looked.
Result<std::filesystem::path> find_chrome();
Result<std::filesystem::path> find_chromedriver();
/// The version `chrome --version` prints ("156.0.8078.73"), for the root
/// /json/version of connect-to-launch; empty if the program does not say
/// within 5 s. Blocks: call it off the start-up path.
std::string browser_version(const std::filesystem::path& chrome);

/// Flags every Chrome session gets: headless, its own profile, DevTools on a
/// free port, no background throttling, and no background traffic (on a
/// closed network Chrome would retry those connections forever).
/// --no-sandbox only if the browser runs as root (`browser_uid` 0), where
/// Chrome's sandbox refuses to start.
std::vector<std::string> chrome_base_flags(const SessionDirs& dirs, uid_t browser_uid);
/// The same but the profile and debugging port, which chromedriver chooses
/// itself: the flags corral merges into a WebDriver session's chromeOptions.
std::vector<std::string> chrome_driven_flags(uid_t browser_uid);

/// `run_as`: the session user, or unset to run as the daemon's user.
LaunchSpec chrome_launch(const std::filesystem::path& binary, const SessionDirs& dirs,
                         const std::vector<std::string>& client_args, const std::optional<Credentials>& run_as);
/// chromedriver listens on `port` of loopback only (127.0.0.1 and ::1) and
/// answers only under `url_base` ("/<secret>", BrowserRequest).
LaunchSpec chromedriver_launch(const std::filesystem::path& binary, const SessionDirs& dirs, uint16_t port,
                               const std::string& url_base, const std::vector<std::string>& client_args,
                               const std::optional<Credentials>& run_as);

/// A port on 127.0.0.1 that was free a moment ago (chromedriver cannot report
/// the port it picks for --port=0).
Result<uint16_t> pick_free_port();

}  // namespace corral
