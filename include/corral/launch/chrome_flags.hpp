// Which command-line flags a client may add to a session's browser.
//
// A client must never make the host run a command of its choosing, so flags
// that launch helper programs are refused by name, and everything else must
// be on an allowlist of harmless display, locale and network options.
#pragma once

#include <string>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

enum class BrowserKind { chrome, chromedriver };

/// "chrome" / "chromedriver"; EINVAL otherwise.
Result<BrowserKind> parse_browser_kind(const std::string& text);
const char* browser_kind_name(BrowserKind kind);

/// EINVAL naming the first refused flag and why: a forbidden flag (runs a
/// command, or takes over what corral owns: profile dir, debugging port), a
/// flag not on the kind's allowlist, or something that is not a "--flag".
Result<void> check_client_args(BrowserKind kind, const std::vector<std::string>& args);

}  // namespace corral
