#include <doctest/doctest.h>

#include "corral/util/units.hpp"

using namespace corral;
using std::chrono::milliseconds;

TEST_CASE("parse_duration") {
  const milliseconds max(60000);
  CHECK(*parse_duration("2", max) == milliseconds(2000));
  CHECK(*parse_duration("0", max) == milliseconds(0));
  CHECK(*parse_duration("1.5", max) == milliseconds(1500));
  CHECK(*parse_duration("500ms", max) == milliseconds(500));
  CHECK(*parse_duration("2s", max) == milliseconds(2000));
  CHECK(*parse_duration("1m", max) == milliseconds(60000));
  CHECK(*parse_duration("2h", std::chrono::hours(3)) == std::chrono::hours(2));
  for (const char* bad : {"", "-1", "abc", "2h", "61", "nan", "1e9", "5d"})
    CHECK_MESSAGE(!parse_duration(bad, max).ok(), bad);
}

TEST_CASE("parse_cpu_percent") {
  CHECK(*parse_cpu_percent("150%") == 150);
  CHECK(*parse_cpu_percent("50") == 50);
  for (const char* bad : {"", "%", "0%", "-5%", "1.5%", "100001%"}) CHECK_MESSAGE(!parse_cpu_percent(bad).ok(), bad);
}
