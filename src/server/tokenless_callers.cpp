#include "corral/server/tokenless_callers.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace corral {

namespace {

constexpr std::chrono::seconds kMembershipKept{5};
constexpr size_t kMaxRemembered = 4096;

std::optional<gid_t> group_id(const std::string& name) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return std::nullopt;
  return found->gr_gid;
}

}  // namespace

TokenlessCallers::TokenlessCallers(uid_t daemon_uid, std::string group)
    : m_daemon_uid(daemon_uid), m_group(std::move(group)) {}

bool TokenlessCallers::admits(uid_t uid) {
  if (uid == 0 || uid == m_daemon_uid) return true;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(m_mutex);
  auto known = m_members.find(uid);
  if (known != m_members.end() && now - known->second.second < kMembershipKept) return known->second.first;
  if (m_members.size() >= kMaxRemembered) m_members.clear();
  bool member = member_of_group(uid);
  m_members[uid] = {member, now};
  return member;
}

// By the user database: the uid's primary group, or a supplementary one.
bool TokenlessCallers::member_of_group(uid_t uid) const {
  auto gid = group_id(m_group);
  if (!gid) return false;
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return false;
  if (found->pw_gid == *gid) return true;
  int count = 64;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  while (getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) < 0) {
    if (count > 65536) return false;
    groups.resize(static_cast<size_t>(count));
  }
  groups.resize(static_cast<size_t>(count));
  return std::find(groups.begin(), groups.end(), *gid) != groups.end();
}

std::string TokenlessCallers::describe() const {
  std::string who = "root";
  if (m_daemon_uid != 0) who += ", uid " + std::to_string(m_daemon_uid);
  return who + " and the members of group " + m_group;
}

}  // namespace corral
