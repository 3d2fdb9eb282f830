// A W3C new-session request made fit for a session's chromedriver, and
// chromedriver's answer made fit for the bot. Pure: no I/O, so every
// capability a bot may send is unit-tested on JSON (tests/unit/webdriver/test_capabilities.cpp).
//
// In: alwaysMatch merged with each firstMatch in turn (legacy
// desiredCapabilities when there is no "capabilities"); the first that
// corral can serve (browserName chrome, chromium or none) wins. corral's
// own per-session fields come in "corral:options" (the POST /v1/sessions
// body's fields) and are taken out. goog:chromeOptions.args are filtered:
// flags corral sets itself are dropped as duplicates, flags that would undo
// its isolation (--no-sandbox, --user-data-dir, --remote-debugging-*) are
// dropped with a warning, the rest must pass the allowlist
// (chrome_flags.hpp). corral's flags go first and its browser is the binary.
// The plan's request says whether a warm chromedriver may serve it instead
// (SessionRequest::warm_attach_miss; the rule is docs/operators.md's, "Warm
// browsers").
//
// Out: chromedriver's session id and its browser's DevTools port are taken
// note of; the bot sees corral's session id, corral's URLs for se:cdp and
// webSocketUrl, and no debuggerAddress (it names the corral host's loopback).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "corral/session/session.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// The browser corral runs and the flags it gives it in every session.
struct CorralBrowser {
  std::string binary;
  std::vector<std::string> flags;
};

struct NewSessionPlan {
  SessionRequest request;            ///< from corral:options; kind chromedriver
  nlohmann::json forward;            ///< the body for chromedriver's POST /session
  std::vector<std::string> warnings; ///< returned as corral:warnings
  bool bidi = false;                 ///< webSocketUrl: true was asked for
  bool corral_options = false;       ///< corral:options was given (not for a session that is open already)
};

/// EINVAL: capabilities that are malformed or not allowed (400 invalid
/// argument); ENOTSUP: well-formed, but no firstMatch names a browser corral
/// runs (500 session not created). The body is taken (move it in): its
/// parts move into the plan, so a large body is never copied.
Result<NewSessionPlan> plan_new_session(nlohmann::json body, const CorralBrowser& browser);

/// The new-session body a warm chromedriver starts its browser with
/// (SessionManagerConfig::warm_driver_session): what a cold session with no
/// capabilities of its own forwards, so that a warm browser is launched
/// exactly as a cold one (corral's binary, flags, way out).
std::string warm_driver_session_body(const CorralBrowser& browser);

/// A plan's forward made to attach to a claimed warm chromedriver's browser
/// (warm_driver.hpp): goog:chromeOptions becomes its debuggerAddress alone,
/// set by corral (a bot's own is refused). Only for a plan whose request
/// had no warm_attach_miss: the launch options it drops were empty.
void attach_to_warm_browser(nlohmann::json& forward, uint16_t browser_port);

/// What corral keeps of chromedriver's new-session answer.
struct DriverSession {
  std::string id;                ///< chromedriver's session id
  uint16_t debugger_port = 0;    ///< goog:chromeOptions.debuggerAddress's port; 0 if none
  nlohmann::json capabilities;   ///< as chromedriver returned them
};

/// EBADMSG: not a successful new-session answer, or one beyond
/// parse_json_bounded's limits (chromedriver runs as the session's user).
Result<DriverSession> parse_driver_session(const std::string& body);

/// corral's URLs for the bot; nullopt where there is none to give (no Host).
struct SessionUrls {
  std::optional<std::string> cdp;   ///< se:cdp
  std::string cdp_version;          ///< se:cdpVersion: "156.0.8078.114"
  std::optional<std::string> bidi;  ///< webSocketUrl, when it was asked for
};

/// The new-session answer the bot gets: {"value":{"sessionId":corral_id,
/// "capabilities":…}} with chromedriver's capabilities rewritten as above.
nlohmann::json client_new_session_reply(DriverSession driver, const std::string& corral_id,
                                        const SessionUrls& urls, std::vector<std::string> warnings);

/// "Chrome/156.0.8078.114" (the Browser of /json/version) → "156.0.8078.114".
std::string cdp_version_of(const std::string& browser);

}  // namespace corral
