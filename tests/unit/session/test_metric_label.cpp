#include <doctest/doctest.h>

#include "corral/session/metric_label.hpp"

using namespace corral;

TEST_CASE("MetricLabel keeps the first values, then counts the rest as other") {
  MetricLabel label("bot", 2);
  CHECK(label.value_for({{"bot", "crawler"}}) == "crawler");
  CHECK(label.value_for({{"bot", "checkout"}}) == "checkout");
  CHECK(label.value_for({{"bot", "third"}}) == "other");
  CHECK(label.value_for({{"bot", "crawler"}}) == "crawler");  // a kept value stays
  CHECK(label.value_for({{"team", "x"}}) == "");             // no such label
  CHECK(label.values_seen() == std::set<std::string>{"", "crawler", "checkout", "other"});
}

TEST_CASE("MetricLabel: values outside [A-Za-z0-9._-]{1,64} count as other and take no place") {
  MetricLabel label("bot", 1);
  CHECK(label.value_for({{"bot", "a b"}}) == "other");
  CHECK(label.value_for({{"bot", "x\"}"}}) == "other");
  CHECK(label.value_for({{"bot", std::string(65, 'a')}}) == "other");
  CHECK(label.value_for({{"bot", ""}}) == "other");
  CHECK(label.value_for({{"bot", "v1.2_ok-3"}}) == "v1.2_ok-3");
  CHECK(MetricLabel::valid_value(std::string(64, 'a')));
}

TEST_CASE("MetricLabel without a key counts every session under the empty value") {
  MetricLabel label("", 32);
  CHECK_FALSE(label.enabled());
  CHECK(label.value_for({{"bot", "crawler"}}) == "");
}

TEST_CASE("MetricLabel::check_key wants a Prometheus label name corral does not use") {
  CHECK(MetricLabel::check_key("bot").ok());
  CHECK(MetricLabel::check_key("team_name").ok());
  CHECK_FALSE(MetricLabel::check_key("team/name").ok());
  CHECK_FALSE(MetricLabel::check_key("1bot").ok());
  CHECK_FALSE(MetricLabel::check_key("__name").ok());
  CHECK_FALSE(MetricLabel::check_key("le").ok());
  CHECK_FALSE(MetricLabel::check_key("reason").ok());
  CHECK_FALSE(MetricLabel::check_key("").ok());
}
