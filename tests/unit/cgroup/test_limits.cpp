#include <doctest/doctest.h>

#include "corral/cgroup/limits.hpp"

using namespace corral;

TEST_CASE("Controllers::parse reads cgroup.controllers") {
  auto all = Controllers::parse("cpuset cpu io memory hugetlb pids rdma misc\n");
  CHECK(all.memory);
  CHECK(all.cpu);
  CHECK(all.tasks);
  CHECK(all.describe() == "memory cpu pids");
  auto none = Controllers::parse("");
  CHECK_FALSE(none.memory);
  CHECK(none.describe() == "none");
  CHECK_FALSE(Controllers::parse("cpuset io").cpu);  // "cpuset" is not "cpu"
}

TEST_CASE("check_enforceable refuses explicit limits without their controller") {
  Limits asked;
  asked.memory_max = 1 << 30;
  auto refused = check_enforceable(asked, Controllers{});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == EOPNOTSUPP);
  CHECK(refused.error().message.find("memory controller") != std::string::npos);
  CHECK(refused.error().message.find("--allow-unenforced-limits") != std::string::npos);
  CHECK(check_enforceable(asked, Controllers{true, false, false}).ok());

  Limits tasks;
  tasks.tasks_max = 64;
  CHECK_FALSE(check_enforceable(tasks, Controllers{true, true, false}).ok());
  CHECK(check_enforceable(Limits{}, Controllers{}).ok());
}

TEST_CASE("with_defaults fills only unset limits") {
  Limits asked, defaults;
  asked.memory_max = 100;
  defaults.memory_max = 200;
  defaults.tasks_max = 50;
  auto merged = asked.with_defaults(defaults);
  CHECK(*merged.memory_max == 100);
  CHECK(*merged.tasks_max == 50);
  CHECK_FALSE(merged.cpu_percent.has_value());
}
