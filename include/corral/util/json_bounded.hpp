// JSON parsed with bounds on its shape, for every document corral reads
// from someone else: request bodies (API, WebDriver, corral:options), the
// state file, and what a session's own processes answer (chromedriver,
// the browser's /json/version and /json/list).
//
// Why: nlohmann's parser is iterative, but copying, comparing or dumping a
// document recurses once per level, so a 200 KB body of 100,000 nested
// arrays ran corrald out of stack (SIGSEGV) at its first copy. And a node
// costs 16 bytes and up (an object's map node about 100) whatever its text
// costs, so `[0,0,0,…]` or `[{},{},…]` grows ten to thirty times its size
// in memory. The depth is checked as each container opens and the count as
// each value arrives, and the parse stops at the first one over: nothing
// deeper or beyond is ever built.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "corral/util/error.hpp"

namespace corral {

struct JsonLimits {
  /// Containers open at once: `[[1]]` is 2 deep, `1` is 0. W3C
  /// capabilities, /json/list and the state file need fewer than 10.
  size_t max_depth = 64;
  /// Values of any kind (objects, arrays, strings, numbers, ...), the
  /// document's own included: `[1,"a"]` has 3.
  size_t max_values = 100'000;
};

/// The document, or:
///  - EBADMSG: not JSON (the message says where it broke);
///  - E2BIG:   JSON beyond a limit (the message names the limit).
/// The E2BIG messages ("nested deeper than 64 levels", "with more than
/// 100000 values") read on from "JSON", so each caller can say what it
/// parsed: "the body is JSON nested deeper than 64 levels".
Result<nlohmann::json> parse_json_bounded(std::string_view text, JsonLimits limits = {});

}  // namespace corral
