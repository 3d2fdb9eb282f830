#include <doctest/doctest.h>

#include "corral/server/auth.hpp"
#include "test_server.hpp"

using namespace corral;
using namespace corral::test;

TEST_CASE("constant_time_equal") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("0123456789abcdef", "0123456789abcdef"));
  CHECK_FALSE(constant_time_equal("0123456789abcdef", "x123456789abcdef"));  // first byte differs
  CHECK_FALSE(constant_time_equal("0123456789abcdef", "0123456789abcdeX"));  // last byte differs
  CHECK_FALSE(constant_time_equal("0123456789abcdef", "0123456789abcde"));   // a prefix
  CHECK_FALSE(constant_time_equal("0123456789abcdef", "0123456789abcdef0"));
  CHECK_FALSE(constant_time_equal("", "a"));
  // A zero byte past the end must not pass for "nothing there".
  CHECK_FALSE(constant_time_equal(std::string_view("ab\0", 3), "ab"));
  // Bytes above 0x7f, and differences that cancel out under addition.
  CHECK_FALSE(constant_time_equal("\x80\x01", "\x81\x00"));
  CHECK(constant_time_equal("\xff\xfe", "\xff\xfe"));
}

TEST_CASE("bearer_token") {
  CHECK(bearer_token("Bearer abc.DEF-123_~+/=") == "abc.DEF-123_~+/=");
  CHECK(bearer_token("bearer abc") == "abc");  // the scheme is case-insensitive
  CHECK(bearer_token("BEARER abc") == "abc");
  CHECK(bearer_token("Bearer   abc  ") == "abc");
  for (const char* bad : {"", "Bearer", "Bearer ", "Bearer    ", "Bearerabc", "Basic dXNlcjpwYXNz", "Token abc",
                          "Bearer abc def", "Bearer abc\tdef", " Bearer abc", "Bear abc"})
    CHECK_MESSAGE(!bearer_token(bad), bad);
}

TEST_CASE("TokenCheck") {
  TokenCheck check("s3cret-token-0123456789");
  CHECK(check.accepts("s3cret-token-0123456789"));
  CHECK_FALSE(check.accepts("s3cret-token-012345678"));
  CHECK_FALSE(check.accepts("s3cret-token-01234567890"));
  CHECK_FALSE(check.accepts("S3cret-token-0123456789"));
  CHECK_FALSE(check.accepts(""));
}

namespace {

const char* kToken = "s3cret-token-0123456789";

// What a route answers when it is reached: its own name.
PlainHandler says(const char* name) {
  return [name](const HttpRequest&, HttpResponse& res) { res.set_content(name, "text/plain"); };
}

HttpResponse teapot_shape(int status, const std::string& code, const std::string& message) {
  HttpResponse res;
  res.status = status;
  res.set_content("shaped " + code + ": " + message, "text/plain");
  return res;
}

// A server that needs kToken, with one route of each access rule at paths
// that auth.cpp knows nothing of.
struct TokenServer {
  TokenServer() : test(short_limits()) {
    auto& routes = test.server.routes();
    routes.add("GET", "/a", says("token route"));
    routes.add("GET", "/b", says("open route"), {Access::open});
    routes.add("GET", "/c/[0-9]+", says("secret route"), {Access::session_secret});
    routes.add("GET", "/d", says("query route"), {Access::token_in_query});
    routes.add("GET", "/e", says("ticket route"), {Access::launch_ticket});
    routes.add("GET", "/f", says("basic route"), {Access::token_or_basic, teapot_shape});
    routes.add_fallback("/f/.*", {Access::token, teapot_shape});
    require_token(test.server, kToken);
    test.start();
  }
  // The whole answer to `method target` with `headers` ("Name: value\r\n"...).
  std::string ask(const std::string& method, const std::string& target, const std::string& headers = "") {
    auto client = test.connect();
    send_all(client.get(), method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + "\r\n");
    return receive(client.get(), "\x01");  // until the server closes
  }
  TestServer test;
};

bool status_is(const std::string& answer, int status) {
  return answer.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0;
}

}  // namespace

TEST_CASE("require_token treats each route by the access it declared, not by its path") {
  TokenServer server;
  const std::string bearer = std::string("Authorization: Bearer ") + kToken + "\r\n";
  auto missing = server.ask("GET", "/a");
  CHECK(status_is(missing, 401));
  CHECK(missing.find("WWW-Authenticate: Bearer realm=\"corral\"\r\n") != std::string::npos);
  CHECK(missing.find(R"({"error":{"code":"unauthorized","message":)") != std::string::npos);
  CHECK(server.ask("GET", "/a", bearer).find("token route") != std::string::npos);
  CHECK(server.ask("GET", "/b").find("open route") != std::string::npos);
  CHECK(server.ask("HEAD", "/b").find("200 OK") != std::string::npos);  // a HEAD of an open GET route is open too
  CHECK(server.ask("GET", "/c/42").find("secret route") != std::string::npos);
  SUBCASE("the token in the query, and a ticket, only where the route takes them, and on a GET") {
    CHECK(status_is(server.ask("GET", std::string("/a?token=") + kToken), 401));
    CHECK(server.ask("GET", std::string("/d?token=") + kToken).find("query route") != std::string::npos);
    CHECK(status_is(server.ask("GET", "/d?token=wrong"), 401));
    CHECK(status_is(server.ask("HEAD", std::string("/d?token=") + kToken), 401));
    CHECK(status_is(server.ask("GET", "/d?ticket=t"), 401));
    CHECK(server.ask("GET", "/e?ticket=t").find("ticket route") != std::string::npos);  // the handler redeems it
    CHECK(status_is(server.ask("GET", "/e?ticket=t&ticket=u"), 401));
    CHECK(status_is(server.ask("GET", "/e?%74icket=t"), 400));
  }
  SUBCASE("Basic auth's password where the route takes it; refusals in the route's shape") {
    const std::string basic = "Authorization: Basic dXNlcjpzM2NyZXQtdG9rZW4tMDEyMzQ1Njc4OQ==\r\n";  // user:kToken
    CHECK(server.ask("GET", "/f", basic).find("basic route") != std::string::npos);
    CHECK(status_is(server.ask("GET", "/a", basic), 401));
    CHECK(server.ask("GET", "/f").find("shaped unauthorized: this corrald needs") != std::string::npos);
    CHECK(server.ask("GET", "/a").find("shaped") == std::string::npos);
  }
  SUBCASE("a request no route takes needs the token first, in its fallback's shape") {
    auto unknown = server.ask("GET", "/nowhere");
    CHECK(status_is(unknown, 401));
    CHECK(unknown.find(R"({"error":{"code":"unauthorized")") != std::string::npos);
    CHECK(server.ask("POST", "/b").find("401 Unauthorized") != std::string::npos);  // open is GET's alone
    CHECK(server.ask("GET", "/f/x").find("shaped unauthorized") != std::string::npos);
    CHECK(status_is(server.ask("GET", "/nowhere", bearer), 404));
  }
}

TEST_CASE("a refusal of a request with a body closes the connection, before the body is read") {
  TokenServer server;
  auto refused = server.ask("POST", "/a", "Content-Length: 5\r\n");
  CHECK(status_is(refused, 401));
  CHECK(refused.find("Connection: close\r\n") != std::string::npos);
}
