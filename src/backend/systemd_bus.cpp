#include "corral/backend/systemd_bus.hpp"

#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace corral {
namespace {
using namespace std::chrono;

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
// runc raised its job timeout from 1 s to 30 s after races under load.
constexpr milliseconds kJobTimeout = seconds(30);

// Holds an sd_bus_error and frees it, so every return path is clean.
struct BusError {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&error); }
  bool is(const char* name) const { return sd_bus_error_has_name(&error, name); }
};

Error bus_failure(int r, const BusError& e, const std::string& what) {
  Error error;
  error.code = e.error.name ? sd_bus_error_get_errno(&e.error) : -r;
  if (error.code <= 0) error.code = EIO;
  error.message = what + ": " + (e.error.message ? e.error.message : e.error.name ? e.error.name : strerror(-r));
  if (e.error.name) error.bus_name = e.error.name;
  return error;
}

// Read the object path a method returned (a job or a unit), and free the reply.
Result<std::string> take_object_path(sd_bus_message* reply, const std::string& what) {
  const char* object = nullptr;
  int r = sd_bus_message_read(reply, "o", &object);
  std::string path = object ? object : "";
  sd_bus_message_unref(reply);
  if (r < 0) return Error::from_errno(-r, "read " + what + " reply");
  return path;
}

int on_job_removed(sd_bus_message* message, void* userdata, sd_bus_error*) {
  auto* finished = static_cast<std::vector<std::pair<std::string, std::string>>*>(userdata);
  uint32_t id;
  const char *job, *unit, *result;
  if (sd_bus_message_read(message, "uoss", &id, &job, &unit, &result) < 0) return 0;
  if (finished->size() > 512) finished->erase(finished->begin(), finished->begin() + 256);
  finished->emplace_back(job, result);
  return 0;
}

// The unit stop_and_unload waits for systemd to unload, and whether it has.
struct UnloadWatch {
  std::string unit;
  bool unloaded = false;
};

// UnitRemoved(s name, o path): systemd has unloaded a unit.
int on_unit_removed(sd_bus_message* message, void* userdata, sd_bus_error*) {
  auto* watched = static_cast<UnloadWatch*>(userdata);
  const char *name = nullptr, *object = nullptr;
  if (sd_bus_message_read(message, "so", &name, &object) < 0) return 0;
  if (watched->unit == name) watched->unloaded = true;
  return 0;
}

Result<std::string> private_socket(SystemdBus::Manager manager) {
  if (manager == SystemdBus::Manager::system)
    return geteuid() == 0 ? std::string("/run/systemd/private") : std::string();
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  return runtime ? std::string(runtime) + "/systemd/private" : std::string();
}

}  // namespace

Result<std::unique_ptr<SystemdBus>> SystemdBus::connect(Manager manager) {
  sd_bus* bus = nullptr;
  std::string address;
  auto socket = private_socket(manager);
  std::error_code ec;
  int r;
  bool direct = !socket->empty() && std::filesystem::exists(*socket, ec);
  if (direct) {
    address = "unix:path=" + *socket;
    r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, address.c_str());
    if (r >= 0) r = sd_bus_start(bus);
  } else {
    address = manager == Manager::system ? "system bus" : "user bus";
    r = manager == Manager::system ? sd_bus_open_system(&bus) : sd_bus_open_user(&bus);
  }
  if (r < 0) {
    sd_bus_unref(bus);
    return Error::from_errno(-r, "connect to the systemd " +
                                     std::string(manager == Manager::system ? "system" : "user") +
                                     " manager (" + address + ")");
  }
  std::unique_ptr<SystemdBus> connection(new SystemdBus(bus, address));
  // Installed once, before any call: a JobRemoved that arrives while
  // sd_bus_call waits for its reply is queued and dispatched afterwards.
  r = sd_bus_match_signal(bus, nullptr, nullptr, kPath, kManager, "JobRemoved", on_job_removed,
                          &connection->m_finished_jobs);
  if (r < 0) return Error::from_errno(-r, "add JobRemoved match");
  if (!direct) CORRAL_TRY(connection->subscribe());
  auto group = connection->manager_control_group();
  if (!group) return group.error();  // a bus without a systemd manager behind it
  return connection;
}

SystemdBus::~SystemdBus() { sd_bus_flush_close_unref(m_bus); }

// Only for a connection through the bus broker. systemd sends every signal
// to its direct (private socket) connections unconditionally, and answers
// Subscribe there without doing anything ("direct bus connection subscribe
// by default": method_subscribe in src/core/dbus-manager.c). On the API
// bus it broadcasts UnitRemoved, like most signals, only while someone is
// subscribed (bus_foreach_bus in src/core/dbus.c); the creator of a job
// gets its JobRemoved regardless. So without Subscribe, stop_and_unload
// would wait out its timeout for a UnitRemoved that never comes: fail now.
Result<void> SystemdBus::subscribe() {
  BusError e;
  int r = sd_bus_call_method(m_bus, kService, kPath, kManager, "Subscribe", &e.error, nullptr, "");
  if (r < 0) return bus_failure(r, e, "Subscribe to the systemd manager's signals (" + m_address + ")");
  return success();
}

Result<std::string> SystemdBus::manager_control_group() {
  std::lock_guard lock(m_mutex);
  BusError e;
  char* value = nullptr;
  int r = sd_bus_get_property_string(m_bus, kService, kPath, kManager, "ControlGroup", &e.error, &value);
  if (r < 0) return bus_failure(r, e, "read Manager.ControlGroup");
  std::string group(value);
  free(value);
  return group;
}

Result<void> SystemdBus::start_transient_unit(const std::string& unit, const AppendProperties& append) {
  std::lock_guard lock(m_mutex);
  for (int attempt = 0;; ++attempt) {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(m_bus, &raw, kService, kPath, kManager, "StartTransientUnit");
    std::unique_ptr<sd_bus_message, decltype(&sd_bus_message_unref)> call(raw, sd_bus_message_unref);
    if (r >= 0) r = sd_bus_message_append(call.get(), "ss", unit.c_str(), "fail");
    if (r >= 0) r = sd_bus_message_open_container(call.get(), 'a', "(sv)");
    if (r >= 0) r = append(call.get());
    if (r >= 0) r = sd_bus_message_close_container(call.get());
    if (r >= 0) r = sd_bus_message_append(call.get(), "a(sa(sv))", 0);
    if (r < 0) return Error::from_errno(-r, "build StartTransientUnit for " + unit);

    BusError e;
    sd_bus_message* reply = nullptr;
    r = sd_bus_call(m_bus, call.get(), 0, &e.error, &reply);
    if (r < 0 && attempt == 0 && e.is("org.freedesktop.systemd1.UnitExists")) {
      // A failed unit of that name is still loaded: reset it and try once more.
      sd_bus_call_method(m_bus, kService, kPath, kManager, "ResetFailedUnit", nullptr, nullptr, "s", unit.c_str());
      continue;
    }
    if (r < 0) return bus_failure(r, e, "StartTransientUnit " + unit);
    auto job = take_object_path(reply, "StartTransientUnit");
    if (!job) return job.error();
    auto result = wait_for_job(*job, steady_clock::now() + kJobTimeout);
    if (!result) return result.error();
    if (*result != "done")
      return Error::make(EIO, "systemd job for " + unit + " ended '" + *result + "', not 'done'");
    return success();
  }
}

Result<void> SystemdBus::start_unit(const std::string& unit) {
  std::lock_guard lock(m_mutex);
  BusError e;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(m_bus, kService, kPath, kManager, "StartUnit", &e.error, &reply, "ss", unit.c_str(),
                             "fail");
  if (r < 0) return bus_failure(r, e, "StartUnit " + unit);
  auto job = take_object_path(reply, "StartUnit");
  if (!job) return job.error();
  auto result = wait_for_job(*job, steady_clock::now() + kJobTimeout);
  if (!result) return result.error();
  if (*result != "done") return Error::make(EIO, "systemd job for " + unit + " ended '" + *result + "', not 'done'");
  return success();
}

Result<bool> SystemdBus::process_until(const std::function<bool()>& done, steady_clock::time_point deadline) {
  for (;;) {
    if (done()) return true;
    int r = sd_bus_process(m_bus, nullptr);
    if (r < 0) return Error::from_errno(-r, "process bus messages");
    if (r > 0) continue;
    auto left = duration_cast<microseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return false;
    r = sd_bus_wait(m_bus, static_cast<uint64_t>(left.count()));
    if (r < 0 && r != -EINTR) return Error::from_errno(-r, "wait for bus messages");
  }
}

Result<std::string> SystemdBus::wait_for_job(const std::string& job, steady_clock::time_point deadline) {
  std::string result;
  auto finished = [&] {
    for (auto it = m_finished_jobs.begin(); it != m_finished_jobs.end(); ++it)
      if (it->first == job) {
        result = it->second;
        m_finished_jobs.erase(it);
        return true;
      }
    return false;
  };
  auto done = process_until(finished, deadline);
  if (!done) return done.error();
  if (!*done) return Error::make(ETIMEDOUT, "timed out waiting for systemd job " + job);
  return result;
}

Result<std::optional<std::string>> SystemdBus::unit_object(const std::string& unit) {
  BusError e;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(m_bus, kService, kPath, kManager, "GetUnit", &e.error, &reply, "s", unit.c_str());
  if (r < 0 && e.is("org.freedesktop.systemd1.NoSuchUnit")) return std::optional<std::string>();
  if (r < 0) return bus_failure(r, e, "GetUnit " + unit);
  auto path = take_object_path(reply, "GetUnit");
  if (!path) return path.error();
  return std::optional<std::string>(*path);
}

Result<std::string> SystemdBus::unit_control_group(const std::string& unit) {
  std::lock_guard lock(m_mutex);
  auto object = unit_object(unit);
  if (!object) return object.error();
  if (!*object) return Error::make(ENOENT, "unit " + unit + " is not loaded");
  BusError e;
  char* group = nullptr;
  int r = sd_bus_get_property_string(m_bus, kService, (*object)->c_str(), "org.freedesktop.systemd1.Scope",
                                     "ControlGroup", &e.error, &group);
  if (r < 0) return bus_failure(r, e, "read ControlGroup of " + unit);
  std::string result(group);
  free(group);
  return result;
}

Result<std::string> SystemdBus::call_returning_job(const char* method, const std::string& unit, const char* mode) {
  BusError e;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(m_bus, kService, kPath, kManager, method, &e.error, &reply, "ss", unit.c_str(), mode);
  if (r < 0 && e.is("org.freedesktop.systemd1.NoSuchUnit")) return std::string();
  if (r < 0) return bus_failure(r, e, std::string(method) + " " + unit);
  return take_object_path(reply, method);
}

Result<void> SystemdBus::stop_and_unload(const std::string& unit, milliseconds timeout) {
  std::lock_guard lock(m_mutex);
  auto deadline = steady_clock::now() + timeout;
  // Matched before GetUnit and StopUnit, as JobRemoved is matched before
  // StartTransientUnit: a UnitRemoved that arrives while sd_bus_call waits
  // for a reply is queued and dispatched later, never missed.
  UnloadWatch watched{unit};
  sd_bus_slot* raw = nullptr;
  int r = sd_bus_match_signal(m_bus, &raw, nullptr, kPath, kManager, "UnitRemoved", on_unit_removed, &watched);
  if (r < 0) return Error::from_errno(-r, "add UnitRemoved match");
  std::unique_ptr<sd_bus_slot, decltype(&sd_bus_slot_unref)> match(raw, sd_bus_slot_unref);
  auto loaded = unit_object(unit);
  if (!loaded) return loaded.error();
  if (!*loaded) return success();  // gone before we matched
  auto job = call_returning_job("StopUnit", unit, "replace");
  if (!job) return job.error();
  if (!job->empty()) {
    auto result = wait_for_job(*job, deadline);
    if (!result) return result.error();
  }
  // A scope that ended failed stays loaded until reset; an inactive one is
  // collected (CollectMode=inactive-or-failed) on systemd's next GC pass.
  sd_bus_call_method(m_bus, kService, kPath, kManager, "ResetFailedUnit", nullptr, nullptr, "s", unit.c_str());
  auto unloaded = process_until([&] { return watched.unloaded; }, deadline);
  if (!unloaded) return unloaded.error();
  if (*unloaded) return success();
  // One last look, so that a lost signal cannot turn an unloaded unit into
  // a failed cleanup.
  loaded = unit_object(unit);
  if (!loaded) return loaded.error();
  if (!*loaded) return success();
  return Error::make(ETIMEDOUT, "unit " + unit + " is still loaded after StopUnit");
}

Result<void> SystemdBus::freeze_unit(const std::string& unit) {
  std::lock_guard lock(m_mutex);
  BusError e;
  int r = sd_bus_call_method(m_bus, kService, kPath, kManager, "FreezeUnit", &e.error, nullptr, "s", unit.c_str());
  if (r < 0) return bus_failure(r, e, "FreezeUnit " + unit);
  return success();
}

Result<void> SystemdBus::thaw_unit(const std::string& unit) {
  std::lock_guard lock(m_mutex);
  BusError e;
  int r = sd_bus_call_method(m_bus, kService, kPath, kManager, "ThawUnit", &e.error, nullptr, "s", unit.c_str());
  if (r < 0) return bus_failure(r, e, "ThawUnit " + unit);
  return success();
}

Result<void> SystemdBus::set_unit_properties(const std::string& unit, const AppendProperties& append) {
  std::lock_guard lock(m_mutex);
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(m_bus, &raw, kService, kPath, kManager, "SetUnitProperties");
  std::unique_ptr<sd_bus_message, decltype(&sd_bus_message_unref)> call(raw, sd_bus_message_unref);
  if (r >= 0) r = sd_bus_message_append(call.get(), "sb", unit.c_str(), 1);
  if (r >= 0) r = sd_bus_message_open_container(call.get(), 'a', "(sv)");
  if (r >= 0) r = append(call.get());
  if (r >= 0) r = sd_bus_message_close_container(call.get());
  if (r < 0) return Error::from_errno(-r, "build SetUnitProperties for " + unit);
  BusError e;
  r = sd_bus_call(m_bus, call.get(), 0, &e.error, nullptr);
  if (r < 0) return bus_failure(r, e, "SetUnitProperties " + unit);
  return success();
}

Result<std::vector<std::string>> SystemdBus::list_units(const std::string& pattern) {
  std::lock_guard lock(m_mutex);
  BusError e;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(m_bus, kService, kPath, kManager, "ListUnitsByPatterns", &e.error, &reply, "asas", 0, 1,
                             pattern.c_str());
  if (r < 0) return bus_failure(r, e, "ListUnitsByPatterns " + pattern);
  std::unique_ptr<sd_bus_message, decltype(&sd_bus_message_unref)> guard(reply, sd_bus_message_unref);
  std::vector<std::string> names;
  r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
  if (r < 0) return Error::from_errno(-r, "read ListUnitsByPatterns reply");
  const char* name;
  while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, nullptr, nullptr, nullptr, nullptr, nullptr,
                                  nullptr, nullptr, nullptr, nullptr)) > 0)
    names.emplace_back(name);
  if (r < 0) return Error::from_errno(-r, "read unit list entry");
  return names;
}

}  // namespace corral
