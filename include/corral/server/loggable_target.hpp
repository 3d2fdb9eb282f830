// What of a request target corral may write to its log. Targets carry
// credentials in several places: a session's secret in the path
// (/cdp/<id>/<secret>, /session/<id>/<secret>/se/cdp, /wd/hub/...), the
// token and launch tickets in the query, and a client may percent-encode
// any of it. Rather than know every such place (and miss the next one),
// the log keeps only what cannot be a credential: short path segments and
// the names of query parameters.
#pragma once

#include <string>
#include <string_view>

namespace corral {

/// `target` as it may be logged: the path percent-decoded, each segment of
/// 16 characters or more (every secret, ticket and token corral accepts is
/// at least that long) replaced by "…"; in the query, every value replaced
/// by "…" but short ones of `wait` and `grace`; bytes that are not
/// printable ASCII shown as '?'.
std::string loggable_target(std::string_view target);

}  // namespace corral
