#include <doctest/doctest.h>

#include "corral/server/auth.hpp"

using namespace corral;

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
