#include "corral/backend/instance_naming.hpp"

#include <stdexcept>

namespace corral {
namespace {

constexpr const char* kBase = "corral";
constexpr size_t kMaxInstanceName = 32;
// Session ids are 12 lower-case hex digits (new_session_id in session/); the
// backend layer cannot include that, so the shape is checked here again.
constexpr size_t kSessionIdLength = 12;

bool session_id_shape(const std::string& text) {
  return text.size() == kSessionIdLength && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

Result<std::string> parse_instance_name(const std::string& name) {
  bool valid = !name.empty() && name.size() <= kMaxInstanceName && name.front() != '_' &&
               name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
  if (valid) return name;
  std::string shown = name.size() > 40 ? name.substr(0, 40) + "..." : name;
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return Error::make(EINVAL, "instance name '" + shown +
                                 "' is not valid: use 1 to 32 lower-case letters, digits and '_', not starting "
                                 "with '_' (it becomes part of unit and cgroup names)");
}

InstanceNaming::InstanceNaming(std::string instance) : m_instance(std::move(instance)) {
  if (!parse_instance_name(m_instance)) throw std::invalid_argument("invalid instance name " + m_instance);
}

std::string InstanceNaming::scope_prefix() const {
  return is_default() ? std::string(kBase) + "-" : std::string(kBase) + "-" + m_instance + "-";
}

std::string InstanceNaming::scope_name(const std::string& session_id) const { return scope_prefix() + session_id; }

// The exact shape, not the prefix alone: "corral-" also begins every other
// instance's names ("corral-X-<id>", "corral-X.slice").
std::optional<std::string> InstanceNaming::session_id(const std::string& scope_name) const {
  auto prefix = scope_prefix();
  if (!scope_name.starts_with(prefix)) return std::nullopt;
  auto id = scope_name.substr(prefix.size());
  if (!session_id_shape(id)) return std::nullopt;
  return id;
}

std::string InstanceNaming::slice() const {
  return is_default() ? std::string(kBase) + ".slice" : std::string(kBase) + "-" + m_instance + ".slice";
}

std::filesystem::path InstanceNaming::sessions_root(const std::filesystem::path& shared_root) const {
  return is_default() ? shared_root : shared_root / slice();
}

std::filesystem::path InstanceNaming::state_dir(const std::filesystem::path& default_state_dir) const {
  return is_default() ? default_state_dir : default_state_dir / "instances" / m_instance;
}

}  // namespace corral
