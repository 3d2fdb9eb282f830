#include "corral/launch/uid_pool.hpp"

#include <algorithm>

namespace corral {

SessionUidPool::SessionUidPool(bool separate, std::vector<Credentials> members, std::string source)
    : m_separate(separate), m_source(std::move(source)) {
  for (const auto& member : members) {
    if (m_members.count(member.uid)) continue;
    m_members[member.uid] = member;
    m_free.push_back(member.uid);
  }
}

SessionUidPool::SessionUidPool(SessionUidPool&& other) noexcept
    : m_separate(other.m_separate),
      m_source(std::move(other.m_source)),
      m_members(std::move(other.m_members)),
      m_free(std::move(other.m_free)),
      m_taken(std::move(other.m_taken)),
      m_quarantined(std::move(other.m_quarantined)) {}

SessionUidPool& SessionUidPool::operator=(SessionUidPool&& other) noexcept {
  std::scoped_lock lock(m_mutex, other.m_mutex);
  m_separate = other.m_separate;
  m_source = std::move(other.m_source);
  m_members = std::move(other.m_members);
  m_free = std::move(other.m_free);
  m_taken = std::move(other.m_taken);
  m_quarantined = std::move(other.m_quarantined);
  return *this;
}

SessionUidPool SessionUidPool::shared(Credentials who, std::string why) {
  return SessionUidPool(false, {who}, "shared: " + why);
}

SessionUidPool SessionUidPool::of(std::vector<Credentials> members, std::string source) {
  return SessionUidPool(true, std::move(members), std::move(source));
}

Result<Credentials> SessionUidPool::take(std::chrono::milliseconds wait) {
  std::unique_lock lock(m_mutex);
  if (!m_separate) return m_members.begin()->second;
  if (m_free.empty() && !m_taken.empty())
    m_given_back.wait_for(lock, wait, [this] { return !m_free.empty() || m_taken.empty(); });
  if (m_free.empty())
    return Error::make(ENOSPC, "every session uid is in use (" + std::to_string(m_taken.size()) + " of " +
                                   std::to_string(m_members.size()) + ", " + std::to_string(m_quarantined.size()) +
                                   " quarantined)");
  uid_t uid = m_free.front();
  m_free.pop_front();
  m_taken.insert(uid);
  return m_members.at(uid);
}

Result<void> SessionUidPool::claim(uid_t uid) {
  std::lock_guard lock(m_mutex);
  if (!m_separate) return success();
  if (!m_members.count(uid)) return Error::make(ENOENT, "uid " + std::to_string(uid) + " is not in the pool");
  if (m_taken.count(uid)) return Error::make(EEXIST, "uid " + std::to_string(uid) + " is taken already");
  m_free.erase(std::remove(m_free.begin(), m_free.end(), uid), m_free.end());
  m_quarantined.erase(uid);
  m_taken.insert(uid);
  return success();
}

void SessionUidPool::give_back(uid_t uid) {
  {
    std::lock_guard lock(m_mutex);
    if (!m_separate || !m_taken.erase(uid)) return;
    m_free.push_back(uid);
  }
  m_given_back.notify_one();
}

void SessionUidPool::quarantine(uid_t uid, const std::string& why) {
  std::lock_guard lock(m_mutex);
  if (!m_separate || !m_members.count(uid)) return;
  m_taken.erase(uid);
  m_free.erase(std::remove(m_free.begin(), m_free.end(), uid), m_free.end());
  m_quarantined[uid] = why;
  m_given_back.notify_all();  // a waiter may now wait for nothing
}

void SessionUidPool::return_from_quarantine(uid_t uid) {
  {
    std::lock_guard lock(m_mutex);
    if (!m_quarantined.erase(uid)) return;
    m_free.push_back(uid);
  }
  m_given_back.notify_one();
}

std::optional<Credentials> SessionUidPool::member(uid_t uid) const {
  auto it = m_members.find(uid);
  if (it == m_members.end()) return std::nullopt;
  return it->second;
}

std::vector<Credentials> SessionUidPool::free_members() const {
  std::lock_guard lock(m_mutex);
  std::vector<Credentials> members;
  for (uid_t uid : m_free) members.push_back(m_members.at(uid));
  return members;
}

bool SessionUidPool::is_session_uid(uid_t uid) const { return m_separate && m_members.count(uid) > 0; }

UidPoolStatus SessionUidPool::status() const {
  std::lock_guard lock(m_mutex);
  UidPoolStatus status;
  status.separate = m_separate;
  status.source = m_source;
  status.size = m_separate ? m_members.size() : 0;
  status.in_use = m_taken.size();
  status.quarantined = m_quarantined;
  return status;
}

}  // namespace corral
