// libFuzzer target for what a client controls: the POST /v1/sessions body
// (parse_session_request) and the unit parsers behind it, the WebDriver
// new-session body (parse_json_bounded, then plan_new_session), and the
// depth bound on every JSON corral reads. Built and run by
// tests/fuzz/run-fuzz with ASan+UBSan, so besides the invariants below any
// memory error, leak or undefined behaviour counts as a crash.
//
// Every invariant is a promise the HTTP layer relies on: errors must map to
// 400/422 (never 500), and whatever is accepted must already be safe to hand
// to cgroups and to the browser's command line.
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <vector>
#include <string>
#include <string_view>

#include "corral/launch/chrome_flags.hpp"
#include "corral/api/open_request.hpp"
#include "corral/webdriver/capabilities.hpp"
#include "corral/util/json_bounded.hpp"
#include "corral/util/units.hpp"

using namespace corral;

namespace {

// __builtin_trap() rather than assert(): it fires whatever NDEBUG says.
void require(bool condition) {
  if (!condition) __builtin_trap();
}

template <class T>
void require_clean_error(const Result<T>& result, bool bad_message_allowed) {
  const Error& error = result.error();
  require(error.code == EINVAL || (bad_message_allowed && error.code == EBADMSG));
  require(!error.message.empty());
}

void check_session_request(const std::string& body) {
  auto request = parse_session_request(body);
  if (!request) {
    // EBADMSG → 400, EINVAL → 422; anything else would become a 500.
    require_clean_error(request, true);
    return;
  }
  const Limits& limits = request->limits;
  constexpr uint64_t kMinimumMemory = uint64_t{4} << 20;
  if (limits.memory_max) require(*limits.memory_max >= kMinimumMemory);
  if (limits.memory_high) require(*limits.memory_high >= kMinimumMemory);
  if (limits.memory_max && limits.memory_high) require(*limits.memory_high <= *limits.memory_max);
  if (limits.tasks_max) require(*limits.tasks_max >= 1 && *limits.tasks_max <= 4194304);
  if (limits.cpu_percent) require(*limits.cpu_percent >= 1 && *limits.cpu_percent <= 100000);
  // Accepted args reach the browser's argv: they must pass the flag policy on their own.
  require(check_client_args(request->kind, request->args).ok());
  // The daemon turns these into timers: at least 1 s, at most 30 days.
  using std::chrono::milliseconds, std::chrono::hours;
  for (const auto& duration : {request->ttl, request->idle_timeout})
    if (duration) require(*duration >= milliseconds(1000) && *duration <= hours(24 * 30));
  require(request->labels.size() <= 32);
  for (const auto& [key, text] : request->labels) require(!key.empty() && key.size() <= 63 && text.size() <= 256);
}

// The unit parsers also read operator flags and config, so fuzz them directly
// with text the JSON layer would never let through (NULs, raw bytes, ...).
void check_units(std::string_view text) {
  // A size is digits first: no sign, no blanks, so "-1" can never wrap around.
  if (auto size = parse_size(text); size) require(!text.empty() && text[0] >= '0' && text[0] <= '9');
  else require_clean_error(size, false);

  if (auto cpu = parse_cpu_percent(text); cpu) require(*cpu >= 1 && *cpu <= 100000);
  else require_clean_error(cpu, false);

  constexpr std::chrono::milliseconds kMax{60000};
  if (auto duration = parse_duration(text, kMax); duration) {
    require(duration->count() >= 0 && *duration <= kMax);
  } else {
    require_clean_error(duration, false);
  }
}

// The WebDriver new session as webdriver_new_session.cpp runs it: the
// body parsed with bounds, then planned. Errors must be the two the route
// turns into W3C errors; a plan must carry corral's browser, flags and kind
// and none of what the planning takes out.
void check_new_session(const std::string& body) {
  auto document = parse_json_bounded(body);
  if (!document) {
    require(document.error().code == EBADMSG || document.error().code == E2BIG);
    return;
  }
  static const CorralBrowser browser{"/usr/bin/chromium", {"--headless=new", "--no-first-run"}};
  auto plan = plan_new_session(std::move(*document), browser);
  if (!plan) {
    require(plan.error().code == EINVAL || plan.error().code == ENOTSUP);
    require(!plan.error().message.empty());
    return;
  }
  require(plan->request.kind == BrowserKind::chromedriver);
  // at(): a missing part throws, which the fuzzer reports as a crash.
  const auto& caps = plan->forward.at("capabilities").at("alwaysMatch");
  require(caps.is_object() && !caps.contains("corral:options"));
  const auto& options = caps.at("goog:chromeOptions");
  require(options.at("binary") == browser.binary && !options.contains("debuggerAddress"));
  auto args = options.at("args").get<std::vector<std::string>>();
  require(args.size() >= browser.flags.size() && std::equal(browser.flags.begin(), browser.flags.end(), args.begin()));
  for (const auto& arg : args)
    require(arg != "--no-sandbox" && arg != "--disable-setuid-sandbox" && !arg.starts_with("--user-data-dir") &&
            !arg.starts_with("--remote-debugging"));
  (void)plan->forward.dump();  // what goes to chromedriver: no throw, no deep recursion
}

// Whatever the input, 65 arrays around it are more than any JSON corral
// reads may nest: refused (or not JSON), never a document.
void check_depth_bound(const std::string& input) {
  auto wrapped = parse_json_bounded(std::string(65, '[') + input + std::string(65, ']'));
  require(!wrapped && (wrapped.error().code == E2BIG || wrapped.error().code == EBADMSG));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_session_request(input);
  check_new_session(input);
  check_depth_bound(input);
  check_units(std::string_view(input).substr(0, input.find('\n')));
  return 0;
}
