#include "corral/util/work_queue.hpp"

namespace corral {

WorkQueue::WorkQueue(size_t threads) {
  for (size_t i = 0; i < threads; ++i) m_threads.emplace_back([this] { run(); });
}

WorkQueue::~WorkQueue() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_work.notify_all();
  for (auto& thread : m_threads) thread.join();
}

void WorkQueue::post(std::function<void()> task) {
  {
    std::lock_guard lock(m_mutex);
    m_tasks.push_back(std::move(task));
  }
  m_work.notify_one();
}

void WorkQueue::drain() {
  std::unique_lock lock(m_mutex);
  m_idle.wait(lock, [this] { return m_tasks.empty() && m_running == 0; });
}

void WorkQueue::run() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_work.wait(lock, [this] { return m_stopping || !m_tasks.empty(); });
    if (m_tasks.empty()) return;  // stopping, and nothing left to run
    auto task = std::move(m_tasks.front());
    m_tasks.pop_front();
    ++m_running;
    lock.unlock();
    task();
    lock.lock();
    --m_running;
    if (m_tasks.empty() && m_running == 0) m_idle.notify_all();
  }
}

}  // namespace corral
