#include <doctest/doctest.h>

#include "corral/util/units.hpp"

using namespace corral;

TEST_CASE("parse_size accepts bytes and binary suffixes") {
  CHECK(*parse_size("512") == 512);
  CHECK(*parse_size("1536M") == 1536ull << 20);
  CHECK(*parse_size("2G") == 2ull << 30);
  CHECK(*parse_size("2GiB") == 2ull << 30);
  CHECK(*parse_size("64Ki") == 64ull << 10);
}

TEST_CASE("parse_size refuses garbage") {
  for (const char* bad : {"", "-1", "1.5G", "12X", "G", "99999999999999999999", "17179869184T", " 5M"})
    CHECK_MESSAGE(!parse_size(bad).ok(), bad);
}
