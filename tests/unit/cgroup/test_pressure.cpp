#include <doctest/doctest.h>

#include "corral/cgroup/pressure.hpp"

using namespace corral;

TEST_CASE("parse_pressure reads the some and full lines of a PSI file") {
  auto pressure = parse_pressure(
      "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n"
      "full avg10=0.75 avg60=0.00 avg300=0.00 total=789\n");
  REQUIRE(pressure.ok());
  REQUIRE(pressure->some);
  CHECK(pressure->some->avg10 == doctest::Approx(1.5));
  CHECK(pressure->some->avg60 == doctest::Approx(0.25));
  CHECK(pressure->some->total_usec == 123456);
  REQUIRE(pressure->full);
  CHECK(pressure->full->total_usec == 789);
}

TEST_CASE("parse_pressure: a cpu.pressure of an older kernel has no full line") {
  auto pressure = parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n");
  REQUIRE(pressure.ok());
  CHECK(pressure->some->total_usec == 42);
  CHECK_FALSE(pressure->full);
}

TEST_CASE("parse_pressure refuses text without a complete line") {
  CHECK_FALSE(parse_pressure("").ok());
  CHECK_FALSE(parse_pressure("some avg10=0.00 total=1\n").ok());
  CHECK_FALSE(parse_pressure("some avg10=x avg60=0 avg300=0 total=1\n").ok());
  CHECK(parse_pressure("bogus\nsome avg10=0 avg60=0 avg300=0 total=1\n").ok());
}
