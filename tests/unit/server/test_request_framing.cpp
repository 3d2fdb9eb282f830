#include <doctest/doctest.h>

#include "corral/server/request_framing.hpp"

using namespace corral;

TEST_CASE("framing_problem") {
  using H = corral::HttpHeaders;
  CHECK_FALSE(framing_problem(H{}));
  CHECK_FALSE(framing_problem(H{{"Content-Length", "0"}}));
  CHECK_FALSE(framing_problem(H{{"Content-Length", "65536"}, {"Content-Length", "65536"}}));
  CHECK_FALSE(framing_problem(H{{"Transfer-Encoding", "chunked"}}));
  CHECK_FALSE(framing_problem(H{{"transfer-encoding", "Chunked"}}));  // names and the coding are case-insensitive
  for (const char* bad : {"", "abc", "-1", "+5", "1e3", "0x10", "12 ", "1,1", "9999999999999999999"})
    CHECK_MESSAGE(framing_problem(H{{"Content-Length", bad}}), bad);
  CHECK(framing_problem(H{{"Content-Length", "5"}, {"Content-Length", "6"}}));
  CHECK(framing_problem(H{{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}));
  CHECK(framing_problem(H{{"Transfer-Encoding", "gzip"}}));
  CHECK(framing_problem(H{{"Transfer-Encoding", "gzip, chunked"}}));
  CHECK(framing_problem(H{{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}));
}

TEST_CASE("lacks_body_length") {
  CHECK(lacks_body_length({}));
  CHECK(lacks_body_length({{"Host", "x"}}));
  CHECK_FALSE(lacks_body_length({{"Content-Length", "0"}}));
  CHECK_FALSE(lacks_body_length({{"Transfer-Encoding", "chunked"}}));
}

TEST_CASE("header_byte_problem") {
  using H = corral::HttpHeaders;
  CHECK_FALSE(header_byte_problem(H{{"Host", "x"}, {"X-Tab", "a\tb"}, {"X-Latin1", "caf\xe9"}}));
  CHECK(header_byte_problem(H{{"X-Nul", std::string("a\0b", 3)}}));
  CHECK(header_byte_problem(H{{"X-Ctl", "a\x01b"}}));
  CHECK(header_byte_problem(H{{"X-Del", "a\x7f"}}));
  CHECK(header_byte_problem(H{{"X-Cr", "a\rb"}}));
  CHECK(header_byte_problem(H{{"Bad Name", "x"}}));
  CHECK(header_byte_problem(H{{"Bad\x80Name", "x"}}));
  CHECK(header_byte_problem(H{{"", "x"}}));
}
