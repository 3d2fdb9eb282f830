// InstanceNaming: the names one corrald instance (--instance) gives what it
// owns on the host, so that several corralds can share one systemd manager,
// or one delegated cgroup, and never take each other's sessions for theirs.
//
//                     instance "default"         instance X
//   slice             corral.slice               corral-X.slice (in corral.slice)
//   session scope     corral-<id>.scope          corral-X-<id>.scope
//   cgroupfs          <root>/corral-<id>         <root>/corral-X.slice/corral-X-<id>
//   state dir         <state>                    <state>/instances/X
//
// The default instance keeps the names corral had before there were
// instances, so an upgraded corrald adopts the sessions its predecessor left.
// Every other instance nests below the default's place (systemd reads
// corral-X.slice as a child of corral.slice by its name), so a cap on
// corral.slice, or on the cgroupfs root, still holds for all sessions of
// every instance together.
//
// Why an instance name is [a-z0-9][a-z0-9_]{0,31}: it is part of unit names
// and cgroup names, where it needs no escaping; it has no '-', which in a
// slice name means one more level of nesting, and which keeps
// "corral-X-<id>" readable as instance X only; and no '.', so the cgroupfs
// directory corral-X.slice can never be taken for a session's cgroup
// corral-<id> by the default instance.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

inline constexpr const char* kDefaultInstance = "default";

/// The name itself when it is 1 to 32 characters of [a-z0-9_] and does not
/// start with '_'; EINVAL saying what is allowed otherwise.
Result<std::string> parse_instance_name(const std::string& name);

class InstanceNaming {
 public:
  /// The default instance.
  InstanceNaming() = default;
  /// `instance` must be a name parse_instance_name accepts; anything else is
  /// a programmer error (std::invalid_argument).
  explicit InstanceNaming(std::string instance);

  const std::string& instance() const { return m_instance; }
  bool is_default() const { return m_instance == kDefaultInstance; }

  /// "corral-" or "corral-X-": how every scope name of this instance starts.
  std::string scope_prefix() const;
  /// "corral-<id>" or "corral-X-<id>": Scope::name (a unit adds ".scope").
  std::string scope_name(const std::string& session_id) const;
  /// The session id (12 hex digits) that `scope_name` names, when it is one
  /// of this instance's scope names; nothing for anything else, another
  /// instance's scopes and slices included.
  std::optional<std::string> session_id(const std::string& scope_name) const;

  /// "corral.slice" or "corral-X.slice".
  std::string slice() const;
  /// Where this instance's session cgroups are, given the cgroup all
  /// instances share (corral.slice's, or the cgroupfs root): that cgroup
  /// itself for the default instance, <it>/corral-X.slice for X.
  std::filesystem::path sessions_root(const std::filesystem::path& shared_root) const;
  /// This instance's state dir, given where the default instance keeps its
  /// own: that dir itself, or <it>/instances/X.
  std::filesystem::path state_dir(const std::filesystem::path& default_state_dir) const;

 private:
  std::string m_instance = kDefaultInstance;
};

}  // namespace corral
