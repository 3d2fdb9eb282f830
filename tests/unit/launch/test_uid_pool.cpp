#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "corral/launch/uid_pool.hpp"

using namespace corral;

namespace {
SessionUidPool three() { return SessionUidPool::of({{600001, 600001}, {600002, 600002}, {600003, 600003}}, "test"); }
}  // namespace

TEST_CASE("a pool hands each session a uid of its own, and none twice") {
  auto pool = three();
  auto a = pool.take(), b = pool.take(), c = pool.take();
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(a->uid != b->uid);
  CHECK(b->uid != c->uid);
  auto none = pool.take();
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ENOSPC);  // 429, like any other capacity limit
  CHECK(pool.status().in_use == 3);
}

TEST_CASE("a uid given back is used last, so the one free longest comes first") {
  auto pool = three();
  auto a = *pool.take();
  pool.give_back(a.uid);
  CHECK(pool.take()->uid != a.uid);
  CHECK(pool.take()->uid != a.uid);
  CHECK(pool.take()->uid == a.uid);
}

TEST_CASE("a quarantined uid serves no session again, and health names it") {
  auto pool = three();
  auto a = *pool.take();
  pool.quarantine(a.uid, "a file in /dev/shm stayed");
  pool.give_back(a.uid);  // too late: it stays out
  for (int i = 0; i < 2; ++i) CHECK(pool.take()->uid != a.uid);
  CHECK(pool.take().error().code == ENOSPC);
  auto status = pool.status();
  REQUIRE(status.quarantined.count(a.uid));
  CHECK(status.quarantined.at(a.uid) == "a file in /dev/shm stayed");
}

TEST_CASE("adoption claims the uid a session held before the restart") {
  auto pool = three();
  REQUIRE(pool.claim(600002).ok());
  CHECK(pool.claim(600002).error().code == EEXIST);
  CHECK(pool.claim(1000).error().code == ENOENT);
  for (int i = 0; i < 2; ++i) CHECK(pool.take()->uid != 600002);
}

TEST_CASE("a shared pool gives every session the same user, without bound, and names no session uid") {
  auto pool = SessionUidPool::shared({1000, 1000}, "corrald is not root");
  for (int i = 0; i < 5; ++i) CHECK(pool.take()->uid == 1000);
  CHECK_FALSE(pool.separate());
  CHECK_FALSE(pool.is_session_uid(1000));  // the daemon's own uid must stay usable
  CHECK(pool.status().source == "shared: corrald is not root");
  CHECK(three().is_session_uid(600003));
}

TEST_CASE("a take that finds every uid taken waits for one to be given back, and no longer than told") {
  auto pool = SessionUidPool::of({{600001, 600001}}, "one");
  auto held = *pool.take();
  auto started = std::chrono::steady_clock::now();
  CHECK(pool.take(std::chrono::milliseconds(30)).error().code == ENOSPC);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(30));
  std::thread sweeper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pool.give_back(held.uid);
  });
  auto next = pool.take(std::chrono::seconds(5));
  sweeper.join();
  REQUIRE(next.ok());
  CHECK(next->uid == held.uid);
}

TEST_CASE("a quarantined uid swept clean after all serves again") {
  auto pool = three();
  auto a = *pool.take();
  pool.quarantine(a.uid, "a file stayed");
  pool.quarantine(a.uid, "the file is still there");  // a retry failed: the newest why
  CHECK(pool.status().quarantined.at(a.uid) == "the file is still there");
  pool.return_from_quarantine(a.uid);
  CHECK(pool.status().quarantined.empty());
  std::set<uid_t> uids;
  for (int i = 0; i < 3; ++i) uids.insert(pool.take()->uid);
  CHECK(uids.count(a.uid));
  pool.return_from_quarantine(a.uid);  // not quarantined: nothing changes
  CHECK(pool.take().error().code == ENOSPC);
}
