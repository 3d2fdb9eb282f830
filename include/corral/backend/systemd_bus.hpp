// SystemdBus: the few org.freedesktop.systemd1.Manager calls corral makes,
// over one sd-bus connection guarded by a mutex (sd-bus is not thread-safe).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "corral/util/error.hpp"

typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;

namespace corral {

class SystemdBus {
 public:
  enum class Manager { system, user };
  using AppendProperties = std::function<int(sd_bus_message*)>;

  /// Connect like systemctl does: the manager's private socket when we may
  /// use it (/run/systemd/private as root, $XDG_RUNTIME_DIR/systemd/private),
  /// else the system or user bus.
  static Result<std::unique_ptr<SystemdBus>> connect(Manager manager);
  ~SystemdBus();

  std::string address() const { return m_address; }
  /// The manager's own cgroup ("" or "/" for the system manager).
  Result<std::string> manager_control_group();
  /// StartTransientUnit(name, "fail", properties) and wait for its job to
  /// finish with "done". The JobRemoved match is installed before the call.
  Result<void> start_transient_unit(const std::string& unit, const AppendProperties& append);
  /// StartUnit(name, "fail") and wait for its job to finish with "done"
  /// (a unit that is active already finishes at once).
  Result<void> start_unit(const std::string& unit);
  /// The unit's ControlGroup property, relative to the cgroup2 mount.
  Result<std::string> unit_control_group(const std::string& unit);
  /// Stop the unit if it is still loaded, reset it if failed, and wait until
  /// systemd has unloaded it: for its UnitRemoved signal, matched before the
  /// unit is first looked up. ETIMEDOUT if it stays loaded.
  Result<void> stop_and_unload(const std::string& unit, std::chrono::milliseconds timeout);
  /// FreezeUnit / ThawUnit (systemd ≥ 250): systemd answers once the unit's
  /// cgroup is frozen / thawed, and keeps its own view of the unit right.
  Result<void> freeze_unit(const std::string& unit);
  Result<void> thaw_unit(const std::string& unit);
  /// SetUnitProperties(unit, runtime=true, properties): systemd writes the
  /// cgroup files itself (memory.max for MemoryMax, ...) and forgets the
  /// values when the unit goes.
  Result<void> set_unit_properties(const std::string& unit, const AppendProperties& append);
  /// Names of loaded units matching a glob, e.g. "corral-*.scope".
  Result<std::vector<std::string>> list_units(const std::string& pattern);

 private:
  SystemdBus(sd_bus* bus, std::string address) : m_bus(bus), m_address(std::move(address)) {}
  /// Manager.Subscribe: without it the manager sends a broker connection
  /// no UnitRemoved.
  Result<void> subscribe();
  /// The unit's object path, or nothing when it is not loaded.
  Result<std::optional<std::string>> unit_object(const std::string& unit);
  Result<std::string> call_returning_job(const char* method, const std::string& unit, const char* mode);
  /// Dispatch bus messages (signals land in their match callbacks) until
  /// `done()` holds: true, or false once `deadline` has passed.
  Result<bool> process_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline);
  /// The result of a job ("done", "failed", ...) from its JobRemoved.
  Result<std::string> wait_for_job(const std::string& job, std::chrono::steady_clock::time_point deadline);

  std::mutex m_mutex;
  sd_bus* m_bus;
  std::string m_address;
  std::vector<std::pair<std::string, std::string>> m_finished_jobs;  ///< (job path, result)
};

}  // namespace corral
