// A claimed warm chromedriver whose attach failed (docs/operators.md, "Warm
// chromedriver"): the claim was the pool's bet, and a lost bet is the
// pool's, not the bot's. The member ends as any failed start does, the
// event is a miss (never a hit: that is counted only once an attach took,
// warm_attach_succeeded), and the bot's new session starts cold, as a miss
// would have from the first: never from the pool, so it is tried once and
// the member is never handed out again.
//
// The cold start takes the member's own admission ticket (resized to this
// request at its claim), not a new place: released first, that place could
// go to another open or to the pool's refill, and a full --max-sessions
// would turn the fallback into a 429. So for the moments of the member's
// kill the host holds it and the new start together, as when a ready
// member gives way to a cold open (give_warm_place_back).
#include <spdlog/spdlog.h>

#include "corral/session/manager.hpp"
#include "entry.hpp"

namespace corral {
using namespace std::chrono;

Result<SessionInfo> SessionManager::open_cold_after_failed_attach(const std::string& id,
                                                                  const SessionRequest& request,
                                                                  const std::string& why, milliseconds wait) {
  auto place = end_failed_attach(id);
  m_warm_counters.miss(request.kind);
  spdlog::warn("session {}: a warm {} whose attach failed ({}): ended, counted a miss; its new session starts cold",
               id, browser_kind_name(request.kind), why);
  if (place) return finish_open(request, std::move(*place));
  auto memory = request.limits.with_defaults(m_config.default_limits).memory_max.value_or(0);
  return finish_open(request, m_admission.admit(memory, wait));
}

std::optional<Admission::Ticket> SessionManager::end_failed_attach(const std::string& id) {
  EntryPtr member;
  {
    std::lock_guard lock(m_mutex);
    auto taken = take_for_closing(id);
    if (!taken) return std::nullopt;  // its browser exited, say: that end frees the place
    member = *taken;
  }
  // Ours to end now (marked closing): nobody else reads its ticket.
  auto place = std::move(member->ticket);
  m_background_closes.post([this, member] { end_session(member, CloseReason::start_failed, milliseconds(0)); });
  return place;
}

}  // namespace corral
