// --session-uids A-B: a range of uids for sessions that no one else on the
// host uses. An operator's range must never hand a session the uid of a
// real user, of a container's mapped ids, or of systemd's dynamic users:
// a browser running as such a uid could touch what they own. So corrald
// checks the range at start and refuses it, saying why.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

struct UidRange {
  uid_t first = 0, last = 0;  ///< inclusive
  size_t size() const { return static_cast<size_t>(last - first) + 1; }
  bool overlaps(const UidRange& other) const { return first <= other.last && other.first <= last; }
};

/// Most uids one range may hold.
inline constexpr size_t kMaxUidRange = 65536;
/// systemd's DynamicUser= range and its container (nspawn) range.
inline constexpr UidRange kSystemdDynamicUids{61184, 65519};
inline constexpr UidRange kSystemdContainerUids{524288, 1879048191};

/// "600000-600999". EINVAL for anything else, 0 in the range, a range
/// backwards or larger than kMaxUidRange.
Result<UidRange> parse_uid_range(std::string_view text);

/// The ranges of an /etc/subuid or /etc/subgid text ("name:start:count").
std::vector<UidRange> parse_subid_ranges(const std::string& text);

/// What the host already uses.
struct HostIds {
  std::set<uid_t> user_uids;      ///< passwd entries
  std::set<gid_t> group_gids;     ///< group entries
  std::vector<UidRange> subids;   ///< /etc/subuid and /etc/subgid
  std::set<uid_t> process_uids;   ///< any uid (real, effective, saved, fs) of a running process outside corral's sessions
};

/// EINVAL, naming the first conflict, when `range` meets anything in
/// `host` or systemd's ranges.
Result<void> check_uid_range(const UidRange& range, const HostIds& host);

/// This host's HostIds: getpwent, getgrent, /etc/subuid, /etc/subgid, /proc.
HostIds read_host_ids();

}  // namespace corral
