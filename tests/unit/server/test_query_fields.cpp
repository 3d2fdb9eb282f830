// query_fields: the one splitter of a request target's query, which
// parse_target, literal_param_values and the launch URL's query all use.
#include <doctest/doctest.h>

#include "corral/server/http_message.hpp"

using namespace corral;

TEST_CASE("a query splits into its non-empty fields, as written") {
  auto fields = query_fields("/devtools/browser?a=1&&%74oken=x&flag&b=c=d&");
  REQUIRE(fields.size() == 4);
  CHECK(fields[0].whole == "a=1");
  CHECK(fields[1].name == "%74oken");  // not decoded: literal names are told from disguised ones
  CHECK(fields[1].value == "x");
  CHECK(fields[2].name == "flag");
  CHECK(fields[2].value.empty());
  CHECK(fields[3].name == "b");
  CHECK(fields[3].value == "c=d");
  CHECK(query_fields("/json/version").empty());
  CHECK(query_fields("/x?").empty());
}

TEST_CASE("parse_target and literal_param_values read the same fields, decoded") {
  std::string path;
  std::multimap<std::string, std::string> params;
  REQUIRE(parse_target("/a%20b?%74oken=x+y&token=z", path, params));
  CHECK(path == "/a b");
  CHECK(params.count("token") == 2);
  CHECK(literal_param_values("/a?%74oken=x+y&token=z%21", "token") == std::vector<std::string>{"z!"});
}
