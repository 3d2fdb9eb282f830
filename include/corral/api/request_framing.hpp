// What corrald refuses in request headers before routing.
//
// Where a request's body ends must be beyond doubt, or the bytes after it
// could be read as another request (request smuggling, a desynchronised
// keep-alive connection). httplib 0.11.4 reads "Content-Length: abc" as 0,
// takes the first of two different Content-Lengths, ignores a
// Transfer-Encoding other than chunked, and reads a POST that has neither
// header until the client closes.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>

namespace corral {

/// What is wrong with how these request headers frame the body, or nullopt:
/// a Content-Length that is not a plain decimal number, several that
/// differ, a Transfer-Encoding other than a single "chunked", or both
/// headers at once.
std::optional<std::string> framing_problem(const httplib::Headers& headers);

/// A header whose name is not an HTTP token, or whose value holds a control
/// byte (NUL, CR, LF, ... ; tab is allowed), or nullopt. httplib takes such
/// bytes as they come, and they would reach handlers and logs.
std::optional<std::string> header_byte_problem(const httplib::Headers& headers);

/// True if the headers give no body length at all; such a request has an
/// empty body (RFC 9112, 6.3), which httplib must be told explicitly.
bool lacks_body_length(const httplib::Headers& headers);

}  // namespace corral
