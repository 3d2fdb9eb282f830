// HttpRequest and HttpResponse: what routes and request checks see of
// one HTTP exchange, in plain types. The server's Boost.Beast types stay in
// its own two translation units (http_server.cpp, http_connection.cpp), so
// code that only answers requests compiles without them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

/// Orders header names without regard to case (RFC 9110, 5.1).
struct CaseLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

/// Header fields in arrival order within each name; names case-insensitive.
using HttpHeaders = std::multimap<std::string, std::string, CaseLess>;

/// The value of the first `name`, or "".
std::string header_value(const HttpHeaders& headers, const std::string& name);
/// Every value `name` came with, as one comma-separated list (RFC 9110,
/// 5.3), for checks that must see them all; nullopt when it is absent.
std::optional<std::string> header_values(const HttpHeaders& headers, const std::string& name);

struct HttpRequest {
  std::string method;   ///< "GET", as sent
  std::string target;   ///< "/v1/sessions?wait=30s", as sent
  unsigned version = 11;  ///< HTTP/1.1 as 11, HTTP/1.0 as 10
  std::string path;     ///< the target's path, percent-decoded
  std::multimap<std::string, std::string> params;  ///< the query, percent-decoded
  HttpHeaders headers;
  std::string body;     ///< empty for head routes and request checks
  std::vector<std::string> matches;  ///< the route pattern's match: [0] the path, [1].. its groups
  std::string remote_addr;           ///< "127.0.0.1", "::1", or "unix"
  bool unix_listener = false;        ///< the API listens on a unix socket
  /// The uid of a local peer (net/socket_owner.hpp), asked of the kernel at
  /// most once per connection; only while the connection is served.
  std::function<std::optional<uid_t>()> peer_uid = [] { return std::optional<uid_t>(); };

  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
  std::string get_header_value(const std::string& name) const { return header_value(headers, name); }
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string get_param_value(const std::string& name) const;
  /// True if a body follows the head: a Transfer-Encoding, or a Content-Length other than 0.
  bool has_body() const;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;

  /// Replace every `name` field with this one.
  void set_header(const std::string& name, const std::string& value);
  std::string get_header_value(const std::string& name) const { return header_value(headers, name); }
  void set_content(std::string content, const std::string& content_type);
};

/// "Not Found" for 404, and so on; "Unknown" for a code it does not know.
const char* reason_phrase(int status);

/// The bytes of `response` as HTTP/1.1, with its Content-Length; no body
/// when `head_only` (the answer to a HEAD).
std::string serialize(const HttpResponse& response, bool head_only);

/// One name=value field of a request target's query, as written (not
/// percent-decoded); `value` is empty for a field without '='.
struct QueryField {
  std::string_view whole;
  std::string_view name;
  std::string_view value;
};
/// The non-empty fields of the query of `target`, in order.
std::vector<QueryField> query_fields(std::string_view target);

/// The decoded values of the query parameters of `target` whose name is
/// written exactly `name`, not percent-encoded: credentials are accepted
/// under their literal names only, so that what a log or a proxy matches
/// as "token=" is all there is.
std::vector<std::string> literal_param_values(std::string_view target, std::string_view name);

/// A query component ("a%20b", "a+b") decoded as parse_target decodes it.
std::string decode_query_component(std::string_view text);

/// Split an origin-form target ("/path?query") into its decoded path and
/// query parameters. False for any other form ("*", "http://host/...").
bool parse_target(const std::string& target, std::string& path, std::multimap<std::string, std::string>& params);

}  // namespace corral
