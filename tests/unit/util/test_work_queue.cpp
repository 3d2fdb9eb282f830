#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>

#include "corral/util/work_queue.hpp"

using namespace corral;
using namespace std::chrono;

TEST_CASE("a work queue runs every task posted, and drain waits for them") {
  std::atomic<int> ran{0};
  WorkQueue queue(2);
  for (int i = 0; i < 100; ++i) queue.post([&] { ++ran; });
  queue.drain();
  CHECK(ran == 100);
}

TEST_CASE("a one-thread queue runs tasks in the order they were posted") {
  std::vector<int> order;
  WorkQueue queue(1);
  for (int i = 0; i < 20; ++i) queue.post([&order, i] { order.push_back(i); });
  queue.drain();
  REQUIRE(order.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(order[i] == i);
}

TEST_CASE("tasks still queued run before the queue is destroyed") {
  std::atomic<int> ran{0};
  {
    WorkQueue queue(1);
    queue.post([] { std::this_thread::sleep_for(milliseconds(20)); });
    for (int i = 0; i < 5; ++i) queue.post([&] { ++ran; });
  }
  CHECK(ran == 5);
}

TEST_CASE("a queue of N threads runs N tasks at once, and no more") {
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0, most = 0;
  bool release = false;
  WorkQueue queue(3);
  for (int i = 0; i < 6; ++i)
    queue.post([&] {
      std::unique_lock lock(mutex);
      most = std::max(most, ++running);
      changed.notify_all();
      changed.wait(lock, [&] { return release; });
      --running;
    });
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, seconds(5), [&] { return running == 3; }));
    release = true;
  }
  changed.notify_all();
  queue.drain();
  CHECK(most == 3);
}
