#include "corral/backend/systemd_backend.hpp"

#include <systemd/sd-bus.h>

#include <thread>

#include "corral/cgroup/paths.hpp"
#include "corral/util/file_io.hpp"

namespace corral {
namespace {
using namespace std::chrono;

// The slice every instance's sessions are in: the default instance's own,
// the parent of corral-X.slice. A cap on it holds for all of them.
constexpr const char* kSharedSlice = "corral.slice";

int append_flag(sd_bus_message* m, const char* name, bool value) {
  return sd_bus_message_append(m, "(sv)", name, "b", static_cast<int>(value));
}

int append_u64(sd_bus_message* m, const char* name, uint64_t value) {
  return sd_bus_message_append(m, "(sv)", name, "t", value);
}

// The properties of a session scope. Why each one:
//  Delegate: the cgroup is ours to write (cgroup.kill) under systemd's rules.
//  CollectMode: a failed scope would otherwise stay loaded and block its name.
//  OOMPolicy=continue: the default "stop" ends the whole session when the
//    kernel OOM-kills one renderer; the browser copes with that by itself.
int append_limits(sd_bus_message* m, const Limits& limits) {
  int r = 0;
  if (r >= 0 && limits.memory_max) r = append_u64(m, "MemoryMax", *limits.memory_max);
  if (r >= 0 && limits.memory_high) r = append_u64(m, "MemoryHigh", *limits.memory_high);
  if (r >= 0 && limits.cpu_percent) r = append_u64(m, "CPUQuotaPerSecUSec", *limits.cpu_percent * 10000);
  if (r >= 0 && limits.tasks_max) r = append_u64(m, "TasksMax", *limits.tasks_max);
  return r;
}

// What the kernel should show once systemd has written `limits` (memory
// in whole pages, as the kernel keeps it; cpu.max per systemd's 100 ms).
bool limits_in_place(const std::filesystem::path& cgroup, const Limits& limits, const Controllers& enforced) {
  auto shows = [&cgroup](const char* file, const std::string& expected) {
    auto text = read_file(cgroup / file);
    return text && text->substr(0, text->find_last_not_of('\n') + 1) == expected;
  };
  auto pages = [](uint64_t bytes) { return std::to_string(bytes - bytes % 4096); };
  if (enforced.memory && limits.memory_max && !shows("memory.max", pages(*limits.memory_max))) return false;
  if (enforced.memory && limits.memory_high && !shows("memory.high", pages(*limits.memory_high))) return false;
  if (enforced.cpu && limits.cpu_percent && !shows("cpu.max", std::to_string(*limits.cpu_percent * 1000) + " 100000"))
    return false;
  return !(enforced.tasks && limits.tasks_max && !shows("pids.max", std::to_string(*limits.tasks_max)));
}

int append_scope_properties(sd_bus_message* m, const ScopeSpec& spec, const std::string& slice) {
  int r = sd_bus_message_append(m, "(sv)", "Description", "s", spec.description.c_str());
  if (r >= 0) r = sd_bus_message_append(m, "(sv)", "Slice", "s", slice.c_str());
  if (r >= 0) r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, static_cast<uint32_t>(spec.pid));
  if (r >= 0) r = append_flag(m, "Delegate", true);
  if (r >= 0) r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
  if (r >= 0) r = sd_bus_message_append(m, "(sv)", "OOMPolicy", "s", "continue");
  if (r >= 0) r = append_flag(m, "DefaultDependencies", false);
  for (const char* accounting : {"MemoryAccounting", "CPUAccounting", "TasksAccounting"})
    if (r >= 0) r = append_flag(m, accounting, true);
  if (r >= 0) r = append_limits(m, spec.limits);
  return r;
}

}  // namespace

Result<std::unique_ptr<SystemdBackend>> SystemdBackend::connect(SystemdBus::Manager manager, InstanceNaming naming) {
  auto mount = cgroup2_mount();
  if (!mount) return mount.error();
  auto bus = SystemdBus::connect(manager);
  if (!bus) return bus.error();
  auto manager_group = (*bus)->manager_control_group();
  if (!manager_group) return manager_group.error();
  // Slices nest under the manager's own cgroup (user@UID.service for a user
  // manager, the root for the system manager), and so do the controllers
  // it was given: what that cgroup lists is what our scopes can get.
  std::filesystem::path manager_cgroup = *mount;
  manager_cgroup += *manager_group;
  auto controllers = read_file(manager_cgroup / "cgroup.controllers");
  if (!controllers) return controllers.error();
  // Started now rather than with the first session, so that its cgroup
  // exists to be locked (systemd makes a slice's cgroup when it starts it).
  // A slice needs no unit file: systemd makes up corral-X.slice, in
  // corral.slice by its name, as it would for the first scope in it.
  auto slice = naming.slice();
  CORRAL_TRY((*bus)->start_unit(slice));
  auto slice_cgroup = naming.sessions_root((manager_cgroup / kSharedSlice).lexically_normal());
  std::unique_ptr<SystemdBackend> backend(new SystemdBackend(std::move(naming), std::move(*bus), manager, *mount,
                                                             slice_cgroup, Controllers::parse(*controllers)));
  CORRAL_TRY(backend->claim_sessions_root(slice_cgroup));
  return backend;
}

std::string SystemdBackend::kind() const {
  return m_manager == SystemdBus::Manager::system ? "systemd-system" : "systemd-user";
}

Result<Scope> SystemdBackend::describe(const std::string& name) {
  std::string unit = name + ".scope";
  auto group = m_bus->unit_control_group(unit);
  if (!group) return group.error();
  std::filesystem::path cgroup = m_mount;
  cgroup += *group;
  return Scope{name, unit, cgroup};
}

Result<Scope> SystemdBackend::create(const ScopeSpec& spec) {
  std::string unit = spec.name + ".scope";
  auto slice = naming().slice();
  CORRAL_TRY(m_bus->start_transient_unit(
      unit, [&](sd_bus_message* m) { return append_scope_properties(m, spec, slice); }));
  auto scope = describe(spec.name);
  if (!scope) return scope.error();
  // Trust but verify: the gated child must sit in the new scope's cgroup
  // before it may run anything.
  auto where = cgroup_of_process(spec.pid);
  std::filesystem::path actual = m_mount;
  if (where) actual += *where;
  if (!where || actual != scope->cgroup)
    return Error::make(EIO, "process " + std::to_string(spec.pid) + " is not in " + scope->cgroup.string() +
                                " after StartTransientUnit");
  return scope;
}

// systemd removes the cgroup when it unloads the unit; the check keeps
// "scope_removed" in a close report true to the kernel, not to systemd.
Result<void> SystemdBackend::destroy(const Scope& scope) {
  CORRAL_TRY(m_bus->stop_and_unload(scope.unit, seconds(10)));
  if (Cgroup(scope.cgroup).exists()) return Error::make(EBUSY, "cgroup " + scope.cgroup.string() + " still exists");
  return success();
}

// systemd answers FreezeUnit once the unit is frozen; the kernel's word is
// read back all the same, as destroy() does for removal.
Result<void> SystemdBackend::freeze(const Scope& scope) {
  if (auto frozen = m_bus->freeze_unit(scope.unit); !frozen) {
    // systemd freezes only on the unified hierarchy ("does not support
    // freezing" on a hybrid host): said as such, so the pool can cope.
    Error why = frozen.error();
    if (why.bus_name == "org.freedesktop.DBus.Error.NotSupported") why.code = EOPNOTSUPP;
    return why;
  }
  auto frozen = Cgroup(scope.cgroup).frozen();
  if (!frozen) return frozen.error();
  if (!*frozen) return Error::make(EIO, scope.unit + " is not frozen after FreezeUnit");
  return success();
}

Result<void> SystemdBackend::thaw(const Scope& scope) {
  CORRAL_TRY(m_bus->thaw_unit(scope.unit));
  auto frozen = Cgroup(scope.cgroup).frozen();
  if (!frozen) return frozen.error();
  if (*frozen) return Error::make(EIO, scope.unit + " is still frozen after ThawUnit");
  return success();
}

// systemd may write the cgroup files after it has answered (its cgroup
// realization runs from its event loop), so the files are read back,
// briefly, before the limits count as in force.
Result<void> SystemdBackend::set_limits(const Scope& scope, const Limits& limits) {
  if (!limits.any()) return success();
  CORRAL_TRY(m_bus->set_unit_properties(scope.unit, [&](sd_bus_message* m) { return append_limits(m, limits); }));
  auto enforced = Cgroup(scope.cgroup).enforced();
  auto deadline = steady_clock::now() + seconds(2);
  while (!limits_in_place(scope.cgroup, limits, enforced)) {
    if (steady_clock::now() >= deadline) return Error::make(EIO, scope.unit + ": its new limits are not in its cgroup");
    std::this_thread::sleep_for(milliseconds(1));
  }
  return success();
}

// The pattern alone would not do: the default instance's "corral-*.scope"
// also matches every other instance's corral-X-<id>.scope. So a unit counts
// only with one of this instance's scope names and its cgroup directly in
// this instance's slice; a scope of that name somewhere else was not made
// by this instance, and is left alone.
Result<std::vector<Scope>> SystemdBackend::find_leftovers() {
  auto units = m_bus->list_units(naming().scope_prefix() + "*.scope");
  if (!units) return units.error();
  std::vector<Scope> scopes;
  for (const auto& unit : *units) {
    auto name = unit.substr(0, unit.size() - std::string(".scope").size());
    if (!naming().session_id(name)) continue;
    auto scope = describe(name);
    // A unit that vanished meanwhile needs no cleaning.
    if (scope && scope->cgroup.lexically_normal().parent_path() == m_slice_cgroup) scopes.push_back(*scope);
  }
  return scopes;
}

}  // namespace corral
