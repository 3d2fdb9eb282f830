#include "corral/egress/egress_names_refresh.hpp"

#include <spdlog/spdlog.h>

namespace corral {
namespace {

std::string addresses_text(const std::vector<IpAddress>& addresses) {
  std::string text;
  for (const auto& address : addresses) text += (text.empty() ? "" : ", ") + address.to_string();
  return text.empty() ? "nothing" : text;
}

// `fresh` and `current` hold the same entries in the same order (both come
// from one configured list). A name that resolved to nothing now keeps
// what it had; one that moved is logged. True if any moved.
bool settle(std::vector<EgressRule>& fresh, const std::vector<EgressRule>& current, const std::string& flag) {
  bool moved = false;
  for (size_t i = 0; i < fresh.size() && i < current.size(); ++i) {
    if (!fresh[i].is_name()) continue;
    if (fresh[i].addresses.empty()) {
      fresh[i].addresses = current[i].addresses;
      continue;
    }
    if (fresh[i].addresses == current[i].addresses) continue;
    spdlog::info("{} {} now stands for {} (was {})", flag, fresh[i].to_string(), addresses_text(fresh[i].addresses),
                 addresses_text(current[i].addresses));
    moved = true;
  }
  return moved;
}

}  // namespace

EgressNamesRefresh::EgressNamesRefresh(EgressPolicy& policy, EgressLists configured, NameResolver resolver,
                                       EgressRelay* sessions)
    : m_policy(policy), m_configured(std::move(configured)), m_resolver(std::move(resolver)), m_sessions(sessions) {}

EgressNamesRefresh::~EgressNamesRefresh() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wakeup.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

bool EgressNamesRefresh::refresh_once() {
  bool moved = refresh_operator();
  return refresh_sessions() || moved;
}

bool EgressNamesRefresh::refresh_operator() {
  if (!m_configured.has_names()) return false;
  EgressLists fresh = m_configured;
  std::vector<std::string> problems;
  (void)resolve_names(fresh, m_resolver, true, &problems);
  for (const auto& problem : problems) spdlog::warn("egress policy: {}; it keeps its earlier addresses", problem);
  auto current = m_policy.rules();
  bool moved = settle(fresh.allow, current.allowed, "--egress-allow");
  moved = settle(fresh.deny, current.denied, "--egress-deny") || moved;
  if (moved) m_policy.replace_lists(std::move(fresh.allow), std::move(fresh.deny));
  return moved;
}

// Resolving a copy of what is in force: a name that fails keeps its
// addresses there (resolve_names leaves them), so nothing is lifted.
bool EgressNamesRefresh::refresh_sessions() {
  if (!m_sessions) return false;
  bool moved = false;
  for (auto& [id, current] : m_sessions->named_narrowings()) {
    EgressLists fresh = current;
    std::vector<std::string> problems;
    (void)resolve_names(fresh, m_resolver, true, &problems);
    for (const auto& problem : problems) spdlog::warn("session {}: {}; it keeps its earlier addresses", id, problem);
    bool changed = settle(fresh.allow, current.allow, "session " + id + ": egress allow");
    changed = settle(fresh.deny, current.deny, "session " + id + ": egress deny") || changed;
    if (changed) m_sessions->renarrow(id, std::move(fresh));
    moved = moved || changed;
  }
  return moved;
}

void EgressNamesRefresh::start(std::chrono::milliseconds interval) {
  m_thread = std::thread([this, interval] { run(interval); });
}

void EgressNamesRefresh::run(std::chrono::milliseconds interval) {
  std::unique_lock lock(m_mutex);
  while (!m_wakeup.wait_for(lock, interval, [this] { return m_stopping; })) {
    lock.unlock();
    refresh_once();
    lock.lock();
  }
}

}  // namespace corral
