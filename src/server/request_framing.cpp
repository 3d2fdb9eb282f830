#include "corral/server/request_framing.hpp"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace corral {

namespace {

// 18 digits: far above any body we take, and no overflow in any parse.
bool plain_length(const std::string& value) {
  return !value.empty() && value.size() <= 18 &&
         std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::string> content_length_problem(const HttpHeaders& headers) {
  auto [first, end] = headers.equal_range("Content-Length");
  for (auto it = first; it != end; ++it) {
    if (!plain_length(it->second)) return "Content-Length must be a decimal number of bytes";
    if (it->second != first->second) return "the request has Content-Length headers that differ";
  }
  return std::nullopt;
}

// RFC 9110, 5.6.2: tchar.
bool token_char(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool control_byte(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

}  // namespace

std::optional<std::string> header_byte_problem(const HttpHeaders& headers) {
  for (const auto& [name, value] : headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return c && token_char(c); }))
      return "a header name holds a byte that is not allowed there";
    if (std::any_of(value.begin(), value.end(), [](unsigned char c) { return control_byte(c); }))
      return "the value of header " + name + " holds a control byte";
  }
  return std::nullopt;
}

std::optional<std::string> framing_problem(const HttpHeaders& headers) {
  if (auto problem = content_length_problem(headers)) return problem;
  auto encodings = headers.count("Transfer-Encoding");
  if (encodings == 0) return std::nullopt;
  if (headers.count("Content-Length"))
    return "the request has both Content-Length and Transfer-Encoding; send one";
  if (encodings > 1 || strcasecmp(headers.find("Transfer-Encoding")->second.c_str(), "chunked") != 0)
    return "the only Transfer-Encoding taken is chunked";
  return std::nullopt;
}

bool lacks_body_length(const HttpHeaders& headers) {
  return !headers.count("Content-Length") && !headers.count("Transfer-Encoding");
}

}  // namespace corral
