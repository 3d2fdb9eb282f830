// A warm chromedriver (--warm chromedriver=N): a chromedriver-kind session
// started ahead, exactly as a cold one (its scope, uid, network, secret
// --url-base and the nftables rule that admits only corrald,
// chromedriver_guard.hpp), that corral then has start its browser with a
// new session of its own: the same capabilities a cold WebDriver session
// with nothing of its own would send (corral's browser, flags and way out).
// That first driver session is kept (quitting it would quit the browser);
// a bot's new session attaches to the browser it started, through
// goog:chromeOptions.debuggerAddress, which corral alone sets
// (src/webdriver/new_session.cpp). Both are ended by the session's close:
// the browser is chromedriver's child, in the session's cgroup.
//
// Why chromedriver starts the browser, and ahead of the claim: started this
// way the member is one process tree in one gated start, under the same
// guard as a cold chromedriver, with nothing new to trust. Corral starting
// Chrome and adding chromedriver at the claim instead would need a second
// process put into a running session's namespaces, uid and cgroup (the gate
// only starts one), and would leave chromedriver's own start, polled on
// /status, inside the time a bot waits.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "corral/net/session_connector.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// POST `new_session_body` to chromedriver's <url_base>/session in
/// `network` and wait (up to `timeout`) for its browser: the browser's
/// DevTools port on the session's loopback, from the answer's
/// goog:chromeOptions.debuggerAddress. ECHILD: chromedriver refused or
/// answered something else (bounded: it runs as the session's user).
Result<uint16_t> start_warm_driver_browser(const SessionNetwork& network, uint16_t driver_port,
                                           const std::string& url_base, const std::string& new_session_body,
                                           std::chrono::milliseconds timeout);

/// What a thawed warm chromedriver must pass before it is handed out:
/// chromedriver lives, and both its port and its browser's DevTools port
/// take a connection in `network` (no HTTP answer: see
/// devtools_still_listening for why).
Result<void> warm_driver_still_listening(const SessionNetwork& network, uint16_t driver_port, uint16_t browser_port,
                                         int pidfd);

}  // namespace corral
