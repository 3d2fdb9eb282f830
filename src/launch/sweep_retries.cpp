#include "corral/launch/sweep_retries.hpp"

#include <algorithm>

namespace corral {
using namespace std::chrono;

milliseconds BackOff::after(size_t failures) const {
  auto wait = first;
  for (size_t i = 1; i < failures && wait < longest; ++i) wait *= 2;
  return std::min(wait, longest);
}

SweepRetries::SweepRetries(Attempt attempt, BackOff back_off)
    : m_attempt(std::move(attempt)), m_back_off(back_off), m_thread([this](std::stop_token stop) { run(stop); }) {}

SweepRetries::~SweepRetries() {
  m_thread.request_stop();
  m_changed.notify_all();
}

void SweepRetries::failed(uid_t uid, const std::string& why) {
  {
    std::lock_guard lock(m_mutex);
    note_failure(uid, why);
    ++m_generation;  // the run loop may be waiting for a later one
  }
  m_changed.notify_all();
}

std::map<uid_t, SweepRetry> SweepRetries::status() const {
  std::lock_guard lock(m_mutex);
  return m_waiting;
}

// One attempt at a time, the one due first, outside the lock: a sweep may
// take seconds and health must still answer.
void SweepRetries::run(std::stop_token stop) {
  std::unique_lock lock(m_mutex);
  while (!stop.stop_requested()) {
    auto due = std::min_element(m_waiting.begin(), m_waiting.end(), [](const auto& a, const auto& b) {
      return a.second.next_attempt < b.second.next_attempt;
    });
    if (due == m_waiting.end()) {
      m_changed.wait(lock, stop, [this] { return !m_waiting.empty(); });
      continue;
    }
    if (steady_clock::now() < due->second.next_attempt) {
      auto when = due->second.next_attempt;
      auto seen = m_generation;
      m_changed.wait_until(lock, stop, when, [&] { return m_generation != seen; });
      continue;
    }
    uid_t uid = due->first;
    lock.unlock();
    auto swept = m_attempt(uid);
    lock.lock();
    if (swept) {
      m_waiting.erase(uid);
      continue;
    }
    note_failure(uid, swept.error().message);
  }
}

void SweepRetries::note_failure(uid_t uid, const std::string& why) {
  auto& retry = m_waiting[uid];
  retry.why = why;
  ++retry.failures;
  retry.next_attempt = steady_clock::now() + m_back_off.after(retry.failures);
}

}  // namespace corral
