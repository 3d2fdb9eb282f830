// What corrald refuses in request headers before routing.
//
// Where a request's body ends must be beyond doubt, or the bytes after it
// could be read as another request (request smuggling, a desynchronised
// keep-alive connection). The server's parser (Boost.Beast) refuses most
// of these itself; these checks say so in corrald's own words, and hold
// whatever parser reads the bytes (httplib, which served the API before,
// read "Content-Length: abc" as 0 and took the first of two lengths).
#pragma once

#include "corral/server/http_message.hpp"

#include <optional>
#include <string>

namespace corral {

/// What is wrong with how these request headers frame the body, or nullopt:
/// a Content-Length that is not a plain decimal number, several that
/// differ, a Transfer-Encoding other than a single "chunked", or both
/// headers at once.
std::optional<std::string> framing_problem(const HttpHeaders& headers);

/// A header whose name is not an HTTP token, or whose value holds a control
/// byte (NUL, CR, LF, ... ; tab is allowed), or nullopt: such bytes would
/// reach handlers and logs.
std::optional<std::string> header_byte_problem(const HttpHeaders& headers);

/// True if the headers give no body length at all; such a request has an
/// empty body (RFC 9112, 6.3).
bool lacks_body_length(const HttpHeaders& headers);

}  // namespace corral
