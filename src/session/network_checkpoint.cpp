// The sessions' network counts on disk. The relay counts in corrald's
// memory, so a corrald that crashed took its sessions' counts with it, and
// an adopted session started again from zero: a cap of 100 MB could let
// 100 MB more through after every crash. The state file now holds each
// session's bytes as of its last write, and a restarted corrald counts on
// from there (recovery.cpp). The file is written again when counts moved,
// every SessionManager::kNetworkCheckpoint at most (the closer thread's
// wake-up), so a crash loses at most that long's bytes; a write costs
// about one small file per interval, and nothing while no bytes move.
#include "corral/session/manager.hpp"

#include "entry.hpp"

namespace corral {

// Outside the manager's lock (the kernel way out's counts are an nft
// away), on a copy of the browser taken under it: a close may reset the
// entry's meanwhile.
std::optional<EgressCounters> SessionManager::network_counts_of(const std::shared_ptr<BrowserProcess>& browser) {
  return browser ? browser->egress() : std::nullopt;
}

uint64_t SessionManager::record_network_counts(std::vector<SessionRecord>& records,
                                               const std::vector<std::shared_ptr<BrowserProcess>>& browsers) {
  uint64_t sum = 0;
  for (size_t i = 0; i < records.size() && i < browsers.size(); ++i) {
    auto counts = network_counts_of(browsers[i]);
    if (!counts) continue;
    records[i].network_bytes_in = counts->bytes_in;
    records[i].network_bytes_out = counts->bytes_out;
    sum += counts->bytes_in + counts->bytes_out;
  }
  return sum;
}

void SessionManager::checkpoint_network_counts() {
  std::vector<std::shared_ptr<BrowserProcess>> running;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, entry] : m_live)
      if (entry->info.state == SessionState::running) running.push_back(entry->browser);
  }
  uint64_t now = 0;
  for (const auto& browser : running)
    if (auto counts = network_counts_of(browser)) now += counts->bytes_in + counts->bytes_out;
  {
    std::lock_guard writer(m_persist_mutex);
    if (now == m_persisted_network_bytes) return;
  }
  persist();
}

}  // namespace corral
