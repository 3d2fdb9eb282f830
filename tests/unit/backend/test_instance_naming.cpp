// InstanceNaming: the default instance keeps corral's names; every other
// instance's names nest below them and never parse as another instance's.
#include <doctest/doctest.h>

#include <stdexcept>

#include "corral/backend/instance_naming.hpp"

using namespace corral;

TEST_CASE("instance names: short, lower-case, no '-' or '.', refused with what is allowed") {
  for (const char* good : {"default", "x", "tenant_a", "a1", "0", "b2b_checkout_2", "abcdefghijklmnopqrstuvwxyz012345"})
    CHECK_MESSAGE(parse_instance_name(good).ok(), good);
  for (const char* bad : {"", "Default", "tenant-a", "a.b", "_x", "a b", "a/b", "x\n", "ä",
                          "abcdefghijklmnopqrstuvwxyz0123456", "a*", "../x", "corral.slice"}) {
    auto parsed = parse_instance_name(bad);
    REQUIRE_MESSAGE(!parsed.ok(), bad);
    CHECK(parsed.error().code == EINVAL);
    CHECK(parsed.error().message.find("1 to 32 lower-case letters, digits and '_'") != std::string::npos);
  }
  CHECK(parse_instance_name("x\x01y").error().message.find("'x?y'") != std::string::npos);
  CHECK_THROWS_AS(InstanceNaming("Bad-Name"), std::invalid_argument);
}

TEST_CASE("the default instance has the names corral always had, so an upgrade adopts its sessions") {
  InstanceNaming naming;
  CHECK(naming.instance() == "default");
  CHECK(naming.is_default());
  CHECK(naming.slice() == "corral.slice");
  CHECK(naming.scope_prefix() == "corral-");
  CHECK(naming.scope_name("0123456789ab") == "corral-0123456789ab");
  CHECK(naming.sessions_root("/sys/fs/cgroup/corral.slice") == "/sys/fs/cgroup/corral.slice");
  CHECK(naming.sessions_root("/sys/fs/cgroup/c/corral").string() == "/sys/fs/cgroup/c/corral");
  CHECK(naming.state_dir("/var/lib/corral") == "/var/lib/corral");
  CHECK(InstanceNaming("default").is_default());
}

TEST_CASE("instance X: a slice in corral.slice, scope names of its own, a root and a state dir of its own") {
  InstanceNaming naming("tenant_a");
  CHECK_FALSE(naming.is_default());
  CHECK(naming.slice() == "corral-tenant_a.slice");  // systemd puts it in corral.slice by its name
  CHECK(naming.scope_name("0123456789ab") == "corral-tenant_a-0123456789ab");
  CHECK(naming.sessions_root("/sys/fs/cgroup/corral.slice") == "/sys/fs/cgroup/corral.slice/corral-tenant_a.slice");
  CHECK(naming.sessions_root("/sys/fs/cgroup/c/corral") == "/sys/fs/cgroup/c/corral/corral-tenant_a.slice");
  CHECK(naming.state_dir("/var/lib/corral") == "/var/lib/corral/instances/tenant_a");
}

TEST_CASE("a scope name parses back to its session id only for its own instance") {
  InstanceNaming standard, a("a"), a_b("a_b"), hexlike("0123456789ab");
  CHECK(standard.session_id("corral-0123456789ab") == "0123456789ab");
  CHECK(a.session_id("corral-a-0123456789ab") == "0123456789ab");
  CHECK(hexlike.session_id("corral-0123456789ab-fedcba987654") == "fedcba987654");

  // The default instance's "corral-" begins everyone's names: not enough.
  for (const char* others : {"corral-a-0123456789ab", "corral-a.slice", "corral-0123456789ab.slice",
                             "corral-0123456789ab-fedcba987654", "corral-a_b-0123456789ab"})
    CHECK_MESSAGE(!standard.session_id(others), others);
  // An instance whose name begins another's takes none of the other's.
  CHECK_FALSE(a.session_id("corral-a_b-0123456789ab"));
  CHECK_FALSE(a_b.session_id("corral-a-0123456789ab"));
  CHECK_FALSE(a.session_id("corral-0123456789ab"));
  // Only the shape new_session_id makes, nothing around it.
  for (const char* odd : {"corral-0123456789AB", "corral-0123456789a", "corral-0123456789abc", "corral-",
                          "corral-0123456789ab.scope", "xcorral-0123456789ab", "corral-0123456789ag"})
    CHECK_MESSAGE(!standard.session_id(odd), odd);
}
