#include "corral/launch/uid_range.hpp"

#include <grp.h>
#include <pwd.h>

#include <charconv>
#include <filesystem>
#include <sstream>

#include "corral/util/file_io.hpp"

namespace corral {
namespace {

bool parse_id(std::string_view text, uint64_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

std::string describe(const UidRange& range) {
  return std::to_string(range.first) + "-" + std::to_string(range.last);
}

// The first id of `ids` inside `range`, if any.
template <class Set>
std::optional<uint64_t> first_inside(const Set& ids, const UidRange& range) {
  auto it = ids.lower_bound(range.first);
  if (it != ids.end() && *it <= range.last) return *it;
  return std::nullopt;
}

void add_process_uids(const std::string& status, std::set<uid_t>& uids) {
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("Uid:")) continue;
    std::istringstream fields(line.substr(4));
    for (uid_t uid; fields >> uid;) uids.insert(uid);
  }
}

}  // namespace

Result<UidRange> parse_uid_range(std::string_view text) {
  auto dash = text.find('-');
  uint64_t first = 0, last = 0;
  if (dash == std::string_view::npos || !parse_id(text.substr(0, dash), first) ||
      !parse_id(text.substr(dash + 1), last) || last > 0xfffffffe)
    return Error::make(EINVAL, "--session-uids wants FIRST-LAST, e.g. 400000-400999, not '" + std::string(text) + "'");
  if (first == 0 || last < first)
    return Error::make(EINVAL, "--session-uids " + std::string(text) + " is empty, backwards or holds uid 0");
  UidRange range{static_cast<uid_t>(first), static_cast<uid_t>(last)};
  if (range.size() > kMaxUidRange)
    return Error::make(EINVAL, "--session-uids holds " + std::to_string(range.size()) + " uids; at most " +
                                   std::to_string(kMaxUidRange));
  return range;
}

std::vector<UidRange> parse_subid_ranges(const std::string& text) {
  std::vector<UidRange> ranges;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto second = line.find(':'), third = line.rfind(':');
    uint64_t start = 0, count = 0;
    if (second == std::string::npos || third == second) continue;
    if (!parse_id(std::string_view(line).substr(second + 1, third - second - 1), start) ||
        !parse_id(std::string_view(line).substr(third + 1), count) || count == 0)
      continue;
    ranges.push_back({static_cast<uid_t>(start), static_cast<uid_t>(std::min<uint64_t>(start + count - 1, 0xffffffff))});
  }
  return ranges;
}

Result<void> check_uid_range(const UidRange& range, const HostIds& host) {
  std::string what = "--session-uids " + describe(range);
  if (range.overlaps(kSystemdDynamicUids))
    return Error::make(EINVAL, what + " overlaps systemd's dynamic users (" + describe(kSystemdDynamicUids) + ")");
  if (range.overlaps(kSystemdContainerUids))
    return Error::make(EINVAL, what + " overlaps systemd's container range (" + describe(kSystemdContainerUids) + ")");
  if (auto uid = first_inside(host.user_uids, range))
    return Error::make(EINVAL, what + " holds uid " + std::to_string(*uid) + ", which has a passwd entry");
  if (auto gid = first_inside(host.group_gids, range))
    return Error::make(EINVAL, what + " holds gid " + std::to_string(*gid) + ", which has a group entry");
  for (const auto& subids : host.subids)
    if (range.overlaps(subids))
      return Error::make(EINVAL, what + " overlaps " + describe(subids) + " of /etc/subuid or /etc/subgid");
  if (auto uid = first_inside(host.process_uids, range))
    return Error::make(EINVAL, what + " holds uid " + std::to_string(*uid) + ", which a running process has");
  return success();
}

HostIds read_host_ids() {
  HostIds host;
  setpwent();
  while (auto* user = getpwent()) host.user_uids.insert(user->pw_uid);
  endpwent();
  setgrent();
  while (auto* group = getgrent()) host.group_gids.insert(group->gr_gid);
  endgrent();
  for (const char* file : {"/etc/subuid", "/etc/subgid"})
    if (auto text = read_file(file))
      for (const auto& range : parse_subid_ranges(*text)) host.subids.push_back(range);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // A session of an earlier run (a crash) runs as pool uids until
    // recovery adopts or reaps it; after recovery, a pool uid that still
    // runs anything outside an adopted session is quarantined
    // (HostBrowserLauncher::reclaim_uids).
    if (auto cgroup = read_file(entry.path() / "cgroup"); cgroup && cgroup->find("/corral-") != std::string::npos)
      continue;
    // A zombie runs nothing any more.
    auto status = read_file(entry.path() / "status");
    if (status && status->find("\nState:\tZ") == std::string::npos && status->find("\nState:\tX") == std::string::npos)
      add_process_uids(*status, host.process_uids);
  }
  return host;
}

}  // namespace corral
