// A session's byte cap at its way out: the relay counts every byte it
// moves for a page (egress_connection.cpp), and a session that goes past
// its cap has every connection closed at once and its manager told.
//
// The overshoot is bounded by how the turns shrink: near the cap a turn
// may move only what is left (and at least kMinTurn, so that a turn always
// makes progress), and a turn's last splice may deliver up to one pipe's
// worth (64 KiB) past its share. The relay's threads each move at most one
// turn at once, all starting from the same "left" L at worst: the session
// ends at most L + threads x 64 KiB past its cap, with L at most one full
// turn (kTurn, 256 KiB): under 400 KiB for the relay's two threads, within
// the 1 MB the cap promises.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "egress_relay_impl.hpp"

namespace corral {

namespace {
constexpr size_t kMinTurn = 4096;
}  // namespace

size_t ServedSession::turn_within_cap(size_t turn) const {
  uint64_t cap = max_bytes.load(std::memory_order_relaxed);
  if (cap == 0) return turn;
  uint64_t moved = tally.bytes_in.load(std::memory_order_relaxed) + tally.bytes_out.load(std::memory_order_relaxed);
  uint64_t left = moved >= cap ? 0 : cap - moved;
  // One byte past the cap is what ends the session: a turn may reach it.
  return static_cast<size_t>(std::clamp<uint64_t>(left + 1, kMinTurn, turn));
}

bool ServedSession::count(std::atomic<uint64_t>& counter, uint64_t bytes) {
  counter.fetch_add(bytes, std::memory_order_relaxed);
  uint64_t cap = max_bytes.load(std::memory_order_relaxed);
  if (cap == 0) return false;
  uint64_t moved = tally.bytes_in.load(std::memory_order_relaxed) + tally.bytes_out.load(std::memory_order_relaxed);
  return moved > cap && !over_cap.exchange(true);
}

void EgressRelay::Impl::stop_over_cap(const std::shared_ptr<ServedSession>& session) const {
  auto counts = session->tally.snapshot();
  spdlog::warn("session {}: past its network cap of {} bytes ({} in, {} out); its connections are closed",
               session->id, session->max_bytes.load(), counts.bytes_in, counts.bytes_out);
  std::function<void()> tell;
  {
    std::lock_guard lock(session->mutex);
    tell = session->on_over_cap;
  }
  close_session(session, [] {});
  if (tell) tell();
}

Result<void> EgressRelay::cap(const std::string& session_id, uint64_t max_bytes, std::function<void()> over_cap) {
  auto session = m_impl->served(session_id);
  if (!session) return Error::make(ENOENT, "session " + session_id + " has no way out");
  {
    std::lock_guard lock(session->mutex);
    session->on_over_cap = std::move(over_cap);
  }
  // Bytes moved before the cap count against it; a session already past
  // it ends at its next byte (never here: the caller may hold its locks).
  session->max_bytes = max_bytes;
  return success();
}

bool EgressRelay::add_bytes(const std::string& session_id, uint64_t bytes_in, uint64_t bytes_out) {
  auto session = m_impl->served(session_id);
  if (!session) return false;
  bool over = session->count(session->tally.bytes_in, bytes_in);
  over = session->count(session->tally.bytes_out, bytes_out) || over;
  if (over) m_impl->stop_over_cap(session);
  return true;
}

}  // namespace corral
