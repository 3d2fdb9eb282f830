// The answer to a request that may wait: the reply, and the timer that
// gives up the wait. Whichever comes first, the answer or the timer, the
// other is undone. Used by the opens that wait for room: POST
// /v1/sessions?wait= and WebDriver's new session (--new-session-wait).
#pragma once

#include <memory>
#include <mutex>

#include "corral/server/http_server.hpp"

namespace corral {

class PendingReply {
 public:
  explicit PendingReply(Reply reply) : m_reply(std::move(reply)) {}
  void arm(std::shared_ptr<CancelableTimer> timer) {
    std::unique_lock lock(m_mutex);
    if (!m_done) return void(m_timer = std::move(timer));
    lock.unlock();
    timer->cancel();
  }
  void finish(HttpResponse response) {
    std::shared_ptr<CancelableTimer> timer;
    {
      std::lock_guard lock(m_mutex);
      m_done = true;
      timer = std::move(m_timer);
    }
    if (timer) timer->cancel();
    m_reply(std::move(response));
  }

 private:
  std::mutex m_mutex;
  Reply m_reply;
  std::shared_ptr<CancelableTimer> m_timer;
  bool m_done = false;
};

}  // namespace corral
