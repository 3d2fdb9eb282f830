// WorkQueue: a fixed number of threads that run posted tasks in order of
// posting. For work that must not hold up the thread that asked for it
// (tidying up after a close has answered, a close the client does not wait
// for), with a bound on the threads it may take.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace corral {

class WorkQueue {
 public:
  explicit WorkQueue(size_t threads);
  /// Runs every task still queued, then joins the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void post(std::function<void()> task);
  /// Wait until every task posted so far has run.
  void drain();

 private:
  void run();

  std::mutex m_mutex;
  std::condition_variable m_work, m_idle;
  std::deque<std::function<void()>> m_tasks;
  size_t m_running = 0;
  bool m_stopping = false;
  std::vector<std::thread> m_threads;
};

}  // namespace corral
