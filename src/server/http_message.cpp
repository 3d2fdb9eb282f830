#include "corral/server/http_message.hpp"

#include <strings.h>

#include <algorithm>

namespace corral {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX to its byte; in a query, '+' is a space. A '%' without two hex
// digits stays as it is.
std::string percent_decode(const std::string& text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

void parse_query(std::string_view target, std::multimap<std::string, std::string>& params) {
  for (const auto& field : query_fields(target))
    params.emplace(decode_query_component(field.name), decode_query_component(field.value));
}

}  // namespace

bool CaseLess::operator()(const std::string& a, const std::string& b) const {
  return strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::string header_value(const HttpHeaders& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> header_values(const HttpHeaders& headers, const std::string& name) {
  auto [first, end] = headers.equal_range(name);
  if (first == end) return std::nullopt;
  std::string joined = first->second;
  for (auto it = std::next(first); it != end; ++it) joined += ", " + it->second;
  return joined;
}

std::string HttpRequest::get_param_value(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

bool HttpRequest::has_body() const {
  return has_header("Transfer-Encoding") || (has_header("Content-Length") && get_header_value("Content-Length") != "0");
}

void HttpResponse::set_header(const std::string& name, const std::string& value) {
  headers.erase(name);
  headers.emplace(name, value);
}

void HttpResponse::set_content(std::string content, const std::string& content_type) {
  body = std::move(content);
  set_header("Content-Type", content_type);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string serialize(const HttpResponse& response, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
  for (const auto& [name, value] : response.headers)
    if (strcasecmp(name.c_str(), "Content-Length") != 0) out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
  if (!head_only) out += response.body;
  return out;
}

std::vector<QueryField> query_fields(std::string_view target) {
  std::vector<QueryField> fields;
  auto question = target.find('?');
  if (question == std::string_view::npos) return fields;
  auto query = target.substr(question + 1);
  for (size_t start = 0; start <= query.size();) {
    auto end = std::min(query.find('&', start), query.size());
    auto field = query.substr(start, end - start);
    auto equals = field.find('=');
    if (!field.empty())
      fields.push_back({field, field.substr(0, equals),
                        equals == std::string_view::npos ? std::string_view() : field.substr(equals + 1)});
    start = end + 1;
  }
  return fields;
}

std::vector<std::string> literal_param_values(std::string_view target, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& field : query_fields(target))
    if (field.name == name) values.push_back(decode_query_component(field.value));
  return values;
}

std::string decode_query_component(std::string_view text) { return percent_decode(std::string(text), true); }

bool parse_target(const std::string& target, std::string& path, std::multimap<std::string, std::string>& params) {
  if (target.empty() || target[0] != '/') return false;
  size_t question = target.find('?');
  path = percent_decode(target.substr(0, question), false);
  params.clear();
  parse_query(target, params);
  return true;
}

}  // namespace corral
