#include <doctest/doctest.h>

#include <string>

#include "corral/util/json_bounded.hpp"

using namespace corral;

namespace {
std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }
}  // namespace

TEST_CASE("parse_json_bounded parses what is within its limits") {
  auto parsed = parse_json_bounded(R"({"a":[1,"x",{"b":null}],"c":true})");
  REQUIRE(parsed.ok());
  CHECK((*parsed)["a"][2]["b"].is_null());
  CHECK((*parsed)["c"] == true);
  CHECK(parse_json_bounded("7").ok());
}

TEST_CASE("parse_json_bounded counts depth as containers open at once") {
  JsonLimits limits{3, 1000};
  CHECK(parse_json_bounded(nested_arrays(3), limits).ok());
  CHECK(parse_json_bounded(R"({"a":{"b":[1,2]}})", limits).ok());
  auto deep = parse_json_bounded(nested_arrays(4), limits);
  REQUIRE(!deep.ok());
  CHECK(deep.error().code == E2BIG);
  CHECK(deep.error().message == "nested deeper than 3 levels");
  CHECK(parse_json_bounded(R"({"a":{"b":{"c":1}}})", limits).ok());
  CHECK(parse_json_bounded(R"({"a":{"b":{"c":[1]}}})", limits).error().code == E2BIG);
  // Siblings do not add up: depth is how deep, not how many.
  CHECK(parse_json_bounded("[[[1]],[[2]],[[3]]]", limits).ok());
}

TEST_CASE("parse_json_bounded refuses the attack of issue 19: 100,000 nested arrays") {
  auto attack = parse_json_bounded(nested_arrays(100'000));
  REQUIRE(!attack.ok());
  CHECK(attack.error().code == E2BIG);
  CHECK(attack.error().message == "nested deeper than 64 levels");
  // Unclosed, and inside an object: the same refusal, not a syntax error.
  CHECK(parse_json_bounded(std::string(100'000, '[')).error().code == E2BIG);
  CHECK(parse_json_bounded(R"({"capabilities":)" + nested_arrays(100)).error().code == E2BIG);
  CHECK(parse_json_bounded(nested_arrays(64)).ok());
}

TEST_CASE("parse_json_bounded counts every value, the document's own included") {
  JsonLimits limits{64, 3};
  CHECK(parse_json_bounded(R"([1,"a"])", limits).ok());
  CHECK(parse_json_bounded(R"({"k":1,"l":2})", limits).ok());  // keys are not values
  auto many = parse_json_bounded("[1,2,3]", limits);
  REQUIRE(!many.ok());
  CHECK(many.error().code == E2BIG);
  CHECK(many.error().message == "with more than 3 values");
  CHECK(parse_json_bounded("[{},[],{}]", limits).error().code == E2BIG);
  std::string wide = "[0";
  for (int i = 0; i < 200'000; ++i) wide += ",0";
  CHECK(parse_json_bounded(wide + "]").error().message == "with more than 100000 values");
}

TEST_CASE("parse_json_bounded tells bad JSON from JSON beyond a limit") {
  for (const char* bad : {"", "{", "[1,]", "{\"a\"}", "nul", "\"\\ud800\"", "1 2", "\xff"}) {
    auto parsed = parse_json_bounded(bad);
    REQUIRE_MESSAGE(!parsed.ok(), bad);
    CHECK(parsed.error().code == EBADMSG);
    CHECK(parsed.error().message.starts_with("not valid JSON"));
  }
}
