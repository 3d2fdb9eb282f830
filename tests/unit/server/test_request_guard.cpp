#include <doctest/doctest.h>

#include "corral/server/request_guard.hpp"

using namespace corral;

namespace {

GuardedRequest with_host(std::string_view host) { return {host, std::nullopt, std::nullopt, false}; }

std::optional<int> refused_status(const GuardedRequest& request, const RequestGuardPolicy& policy = {}) {
  auto refusal = guard_request(request, policy);
  return refusal ? std::optional<int>(refusal->status) : std::nullopt;
}

}  // namespace

TEST_CASE("Host: IP literals and localhost pass, names only when allowed") {
  for (auto host : {"127.0.0.1", "127.0.0.1:8420", "10.0.0.7:1", "[::1]:8420", "[::1]", "localhost",
                    "LOCALHOST:80", "[fe80::1]", "127.0.0.1:65535", "[::1]:65535", "localhost:08420"})
    CHECK_MESSAGE(!refused_status(with_host(host)), host);
  for (auto host : {"evil.example", "evil.example:8420", "corral", "localhost.evil.example", "127.0.0.1.nip.io",
                    "", ":8420", "127.0.0.1:", "127.0.0.1:http", "[::1", "[evil]:80", "::1", "a b",
                    "127.0.0.1, evil.example", "localhost:8420:1", "-x", "127.0.0.1:0", "127.0.0.1:65536",
                    "127.0.0.1:99999", "[::1]:0", "[::1]:70000", "localhost:00000"})
    CHECK_MESSAGE(refused_status(with_host(host)) == 403, host);
  RequestGuardPolicy policy;
  policy.allowed_hosts = {"corral.lan"};
  CHECK(!refused_status(with_host("Corral.LAN:8420"), policy));
  CHECK(refused_status(with_host("other.lan"), policy) == 403);
}

TEST_CASE("Host: a request without one is refused over TCP; a unix-socket listener does not check it") {
  auto refusal = guard_request({}, {});
  REQUIRE(refusal);
  CHECK(refusal->status == 403);
  CHECK(std::string(refusal->code) == "host_not_allowed");
  RequestGuardPolicy unix_socket;
  unix_socket.check_host = false;
  CHECK(!refused_status(with_host("/run/corral/api.sock"), unix_socket));
  CHECK(!refused_status({}, unix_socket));
}

TEST_CASE("Origin: any is refused but an allowed one") {
  GuardedRequest request{"127.0.0.1", "http://evil.example", std::nullopt, false};
  auto refusal = guard_request(request, {});
  REQUIRE(refusal);
  CHECK(refusal->status == 403);
  CHECK(std::string(refusal->code) == "origin_not_allowed");
  request.origin = "null";
  CHECK(refused_status(request) == 403);
  RequestGuardPolicy policy;
  policy.allowed_origins = {"https://dash.example:8443"};
  request.origin = "HTTPS://dash.example:8443/";
  CHECK(!refused_status(request, policy));
  request.origin = "https://dash.example:8443, http://evil.example";
  CHECK(refused_status(request, policy) == 403);
}

TEST_CASE("Origin: the request's own http://Host is admitted once Host has passed (the console)") {
  for (auto [host, origin] : {std::pair{"127.0.0.1:8420", "http://127.0.0.1:8420"},
                              {"LOCALHOST:8420", "http://localhost:8420"}, {"[::1]:8420", "http://[::1]:8420/"}})
    CHECK_MESSAGE(!refused_status({host, origin, std::nullopt, false}), origin);
  for (auto [host, origin] : {std::pair{"127.0.0.1:8420", "http://127.0.0.1:8421"},
                              {"127.0.0.1:8420", "https://127.0.0.1:8420"}, {"127.0.0.1:8420", "http://127.0.0.1"},
                              {"127.0.0.1:8420", "http://localhost:8420"},
                              {"127.0.0.1:8420", "http://127.0.0.1:8420, http://evil.example"},
                              {"evil.example:8420", "http://evil.example:8420"}})
    CHECK_MESSAGE(refused_status({host, origin, std::nullopt, false}) == 403, origin);
  // On a unix socket Host is not checked, so it admits no origin of its own.
  RequestGuardPolicy unix_socket;
  unix_socket.check_host = false;
  CHECK(refused_status({"localhost", "http://localhost", std::nullopt, false}, unix_socket) == 403);
  // --public-url's origin: the console behind a proxy, whatever Host the proxy sends.
  RequestGuardPolicy proxied;
  proxied.public_origin = "https://corral.example";
  CHECK(!refused_status({"127.0.0.1:8420", "https://corral.example", std::nullopt, false}, proxied));
  CHECK(refused_status({"127.0.0.1:8420", "https://other.example", std::nullopt, false}, proxied) == 403);
}

TEST_CASE("a body must be JSON") {
  GuardedRequest request{"127.0.0.1", std::nullopt, std::nullopt, true};
  CHECK(refused_status(request) == 415);
  for (auto type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                    "application/jsonx", "application/json, text/plain"}) {
    request.content_type = type;
    CHECK_MESSAGE(refused_status(request) == 415, type);
  }
  for (auto type : {"application/json", "Application/JSON; charset=utf-8", " application/json ;charset=UTF-8"}) {
    request.content_type = type;
    CHECK_MESSAGE(!refused_status(request), type);
  }
  request.has_body = false;
  request.content_type = "text/plain";
  CHECK(!refused_status(request));
}

TEST_CASE("the checks run in order: Host, then Origin, then the body") {
  GuardedRequest request{"evil.example", "http://evil.example", "text/plain", true};
  CHECK(std::string(guard_request(request, {})->code) == "host_not_allowed");
  request.host = "127.0.0.1";
  CHECK(std::string(guard_request(request, {})->code) == "origin_not_allowed");
  request.origin.reset();
  CHECK(std::string(guard_request(request, {})->code) == "unsupported_media_type");
}

TEST_CASE("--allow-host and --allow-origin values are checked") {
  CHECK(*parse_allowed_host("Corral.LAN") == "corral.lan");
  for (auto bad : {"", "a b", "*.example", "host:80", "10.0.0.1", "-x", "a/b"})
    CHECK_MESSAGE(!parse_allowed_host(bad), bad);
  CHECK(*parse_allowed_origin("HTTPS://Dash.example:8443/") == "https://dash.example:8443");
  CHECK(*parse_allowed_origin("http://[::1]:3000") == "http://[::1]:3000");
  for (auto bad : {"", "dash.example", "ftp://dash.example", "https://dash.example/path", "https://",
                   "https://user@dash.example", "https://dash.example:port", "*"})
    CHECK_MESSAGE(!parse_allowed_origin(bad), bad);
}
