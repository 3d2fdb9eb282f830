// Answers whose bytes a session's browser or chromedriver wrote (the
// DevTools /json endpoints, WebDriver commands): corral passes their
// Content-Type on, and does not trust them. At corral's origin, beside the
// console (/ui/) and the token it keeps, such a document must not run: a
// CSP sandbox gives it an opaque origin of its own (its requests carry
// Origin "null", which the request guard refuses), and nosniff keeps a
// JSON answer from being taken for a script or a page.
#pragma once

#include "corral/server/http_message.hpp"

namespace corral {

inline void mark_untrusted_answer(HttpResponse& res) {
  res.set_header("Content-Security-Policy", "sandbox");
  res.set_header("X-Content-Type-Options", "nosniff");
}

}  // namespace corral
