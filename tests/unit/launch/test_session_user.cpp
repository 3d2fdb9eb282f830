#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "temp_dir.hpp"
#include "corral/launch/session_user.hpp"

using namespace corral;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

bool mentions(const Error& error, const std::string& text) { return error.message.find(text) != std::string::npos; }


const SessionUser kUser{"someone", Credentials{4242, 4242}};

}  // namespace

TEST_CASE("an unknown session user is ENOENT, with how to create it and the opt-out") {
  auto user = lookup_session_user("corral-test-no-such-user");
  REQUIRE_FALSE(user.ok());
  CHECK(user.error().code == ENOENT);
  CHECK(mentions(user.error(), "session user 'corral-test-no-such-user' does not exist"));
  CHECK(mentions(user.error(), "systemd-sysusers"));
  CHECK(mentions(user.error(), "useradd --system corral-test-no-such-user"));
  CHECK(mentions(user.error(), "--session-user root"));
}

TEST_CASE("a known user resolves to its uid and primary group") {
  auto root = lookup_session_user("root");
  REQUIRE(root.ok());
  CHECK(root->credentials.uid == 0);
  CHECK(root->credentials.gid == 0);
  CHECK(root->is_root());
  auto nobody = lookup_session_user("nobody");
  REQUIRE(nobody.ok());
  CHECK(nobody->credentials.uid == 65534);
  CHECK_FALSE(nobody->is_root());
}

TEST_CASE("a root daemon runs sessions as --session-user, or corral-session by default") {
  auto chosen = resolve_session_user("nobody", 0);
  REQUIRE(chosen.ok());
  REQUIRE(chosen->has_value());
  CHECK((*chosen)->credentials.uid == 65534);
  auto by_default = resolve_session_user("", 0);
  if (by_default.ok()) CHECK((*by_default)->name == kDefaultSessionUser);
  else CHECK(mentions(by_default.error(), std::string("'") + kDefaultSessionUser + "' does not exist"));
  auto missing = resolve_session_user("corral-test-no-such-user", 0);
  CHECK(missing.error().code == ENOENT);
}

TEST_CASE("a daemon that is not root runs sessions as itself, and switches to nobody else") {
  auto unset = resolve_session_user("", 1000);
  REQUIRE(unset.ok());
  CHECK_FALSE(unset->has_value());
  auto itself = resolve_session_user("nobody", 65534);
  REQUIRE(itself.ok());
  CHECK_FALSE(itself->has_value());
  auto other = resolve_session_user("root", 65534);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == EPERM);
  CHECK(mentions(other.error(), "only a root corrald"));
}

TEST_CASE("may_search: owner, then group, then others; root always") {
  CHECK(may_search(kUser.credentials, 4242, 0, 0700));
  CHECK_FALSE(may_search(kUser.credentials, 4242, 0, 0077));  // the owner's bits count, not the others'
  CHECK(may_search(kUser.credentials, 0, 4242, 0710));
  CHECK_FALSE(may_search(kUser.credentials, 0, 4242, 0701));
  CHECK(may_search(kUser.credentials, 0, 0, 0711));
  CHECK_FALSE(may_search(kUser.credentials, 0, 0, 0770));
  CHECK(may_search(Credentials{0, 0}, 1, 1, 0000));
}

TEST_CASE("check_reachable names the first directory the session user cannot pass") {
  TempDir temp;
  fs::create_directories(temp.path / "state/sessions");
  auto blocked = check_reachable(temp.path / "state/sessions", kUser);
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().code == EACCES);
  CHECK(mentions(blocked.error(), "'" + temp.path.string() + "' is mode 0700"));
  CHECK(mentions(blocked.error(), "chmod o+x"));
  REQUIRE(::chmod(temp.path.c_str(), 0711) == 0);
  CHECK(check_reachable(temp.path / "state/sessions", kUser).ok());
  CHECK(check_reachable(temp.path / "missing", kUser).error().code == ENOENT);
}
