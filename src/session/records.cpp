#include "corral/session/records.hpp"

#include <nlohmann/json.hpp>

#include "corral/util/file_io.hpp"
#include "corral/util/json_bounded.hpp"
#include "corral/util/json_optional.hpp"
#include "corral/session/manager.hpp"

namespace corral {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr int kFormatVersion = 1;
// corrald writes the file itself, so the bound only keeps a wrong file out
// of memory. It must hold every record: a session's args and labels alone
// may be some 80 KiB, and --max-sessions can be unlimited.
constexpr size_t kMaxStateFile = size_t(256) << 20;
// The depth is the bound that matters here (a record is 4 deep): every
// value takes two bytes of the file or more, so the file's size already
// bounds how many there are.
constexpr JsonLimits kStateFileLimits{64, kMaxStateFile / 2};

// nlohmann quotes the bytes it choked on; a damaged file's bytes must not
// reach the log as they are.
std::string printable(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return text;
}

std::optional<int64_t> ms_count(const std::optional<milliseconds>& value) {
  return value ? std::optional(value->count()) : std::nullopt;
}

int64_t epoch_ms(system_clock::time_point when) { return duration_cast<milliseconds>(when.time_since_epoch()).count(); }
system_clock::time_point from_epoch_ms(int64_t ms) { return system_clock::time_point(milliseconds(ms)); }

json limits_record(const Limits& limits) {
  return {{"memory_max", limits.memory_max}, {"memory_high", limits.memory_high},
          {"cpu_percent", limits.cpu_percent}, {"tasks_max", limits.tasks_max}};
}

json driver_binding_json(const std::optional<DriverBinding>& driver) {
  if (!driver) return nullptr;
  return {{"id", driver->driver_id}, {"debugger_port", driver->debugger_port}, {"browser_path", driver->browser_path}};
}

// chromedriver's id goes into the path of every command forwarded to it:
// only what chromedriver makes (hex digits) is taken back from the file.
Result<DriverBinding> driver_binding_from(const json& object, const std::string& id) {
  DriverBinding driver{object.at("id").get<std::string>(), object.at("debugger_port").get<uint16_t>(),
                       object.at("browser_path").get<std::string>()};
  if (driver.driver_id.empty() || driver.driver_id.size() > 64 ||
      driver.driver_id.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Error::make(EBADMSG, "session " + id + ": its WebDriver session id is not hex digits");
  if (!driver.browser_path.empty() && !driver.browser_path.starts_with("/devtools/browser/"))
    return Error::make(EBADMSG, "session " + id + ": its browser target is not /devtools/browser/...");
  return driver;
}

// Redacted: the state file never holds a proxy's credential (the kernel
// key does, launch/proxy_keys.hpp).
json proxy_record(const std::optional<UpstreamProxy>& proxy) {
  return proxy ? json(proxy->redacted()) : json(nullptr);
}

std::optional<UpstreamProxy> proxy_from(const json& object) {
  if (!object.contains("proxy") || object.at("proxy").is_null()) return std::nullopt;
  auto proxy = parse_upstream_proxy(object.at("proxy").get<std::string>());
  return proxy ? std::optional(*proxy) : std::nullopt;
}

json rule_texts(const std::vector<EgressRule>& rules) {
  json texts = json::array();
  for (const auto& rule : rules) texts.push_back(rule.to_string());
  return texts;
}

// The session's own egress lists as asked (names unresolved: adoption
// resolves them again). Absent in records older than the lists.
Result<EgressLists> egress_lists_from(const json& object, const std::string& id) {
  EgressLists lists;
  if (!object.contains("egress")) return lists;
  for (auto [key, list] : {std::pair{"allow", &lists.allow}, std::pair{"deny", &lists.deny}})
    for (const auto& text : object.at("egress").at(key)) {
      auto rule = parse_egress_rule(text.get<std::string>());
      if (!rule) return Error::make(EBADMSG, "session " + id + ": " + rule.error().message);
      list->push_back(std::move(*rule));
    }
  return lists;
}

json record_json(const SessionRecord& record) {
  const SessionInfo& info = record.info;
  return {{"id", info.id},
          {"kind", browser_kind_name(info.request.kind)},
          {"args", info.request.args},
          {"labels", info.request.labels},
          {"requested_limits", limits_record(info.request.limits)},
          {"requested_ttl_ms", ms_count(info.request.ttl)},
          {"requested_idle_timeout_ms", ms_count(info.request.idle_timeout)},
          {"egress",
           {{"allow", rule_texts(info.request.egress.allow)}, {"deny", rule_texts(info.request.egress.deny)}}},
          {"limits", limits_record(info.limits)},
          {"enforced", {{"memory", info.enforced.memory}, {"cpu", info.enforced.cpu}, {"tasks", info.enforced.tasks}}},
          {"scope", {{"name", info.scope.name}, {"unit", info.scope.unit}, {"cgroup", info.scope.cgroup.string()}}},
          {"pid", info.pid},
          {"pid_start_time", record.pid_start_time},
          {"uid", info.uid},
          {"devtools_http", info.endpoints.devtools_http},
          {"devtools_ws", info.endpoints.devtools_ws},
          {"webdriver", info.endpoints.webdriver},
          {"driver", driver_binding_json(info.driver)},
          {"access_secret", info.access_secret},
          {"created_at_ms", epoch_ms(info.created_at)},
          {"ttl_ms", info.ttl.count()},
          {"idle_timeout_ms", info.idle_timeout.count()},
          {"proxy", proxy_record(info.request.proxy)},
          {"requested_network_max_bytes", info.request.network_max_bytes},
          {"network_max_bytes", info.network_max_bytes},
          {"warm", record.warm},
          {"network_bytes", {{"in", record.network_bytes_in}, {"out", record.network_bytes_out}}}};
}

// json::get throws on a wrong type; the caller turns that into EBADMSG.
template <class T>
std::optional<T> optional_field(const json& object, const char* key) {
  return object.at(key).get<std::optional<T>>();
}

Limits limits_from(const json& object) {
  Limits limits;
  limits.memory_max = optional_field<uint64_t>(object, "memory_max");
  limits.memory_high = optional_field<uint64_t>(object, "memory_high");
  limits.cpu_percent = optional_field<uint64_t>(object, "cpu_percent");
  limits.tasks_max = optional_field<uint64_t>(object, "tasks_max");
  return limits;
}

std::optional<milliseconds> optional_ms_from(const json& object, const char* key) {
  auto ms = optional_field<int64_t>(object, key);
  return ms ? std::optional(milliseconds(*ms)) : std::nullopt;
}

Result<SessionRecord> record_from(const json& object, const InstanceNaming& naming) {
  SessionRecord record;
  SessionInfo& info = record.info;
  info.id = object.at("id").get<std::string>();
  if (!valid_session_id(info.id)) return Error::make(EBADMSG, "a record has no valid session id");
  auto kind = parse_browser_kind(object.at("kind").get<std::string>());
  if (!kind) return Error::make(EBADMSG, "session " + info.id + ": " + kind.error().message);
  info.request.kind = *kind;
  info.request.args = object.at("args").get<std::vector<std::string>>();
  info.request.labels = object.at("labels").get<std::map<std::string, std::string>>();
  info.request.limits = limits_from(object.at("requested_limits"));
  info.request.ttl = optional_ms_from(object, "requested_ttl_ms");
  info.request.idle_timeout = optional_ms_from(object, "requested_idle_timeout_ms");
  info.request.proxy = proxy_from(object);
  CORRAL_TRY_ASSIGN(info.request.egress, egress_lists_from(object, info.id));
  info.limits = limits_from(object.at("limits"));
  const json& enforced = object.at("enforced");
  // "pids" is what corrald wrote before the code said "tasks" throughout;
  // read it so sessions of such a corrald are still adopted.
  const json& tasks = enforced.contains("tasks") ? enforced.at("tasks") : enforced.at("pids");
  info.enforced = {enforced.at("memory").get<bool>(), enforced.at("cpu").get<bool>(), tasks.get<bool>()};
  const json& scope = object.at("scope");
  info.scope = {scope.at("name").get<std::string>(), scope.at("unit").get<std::string>(),
                scope.at("cgroup").get<std::string>()};
  // The scope is what a restart will kill: it must be this session's, of
  // this instance, and nothing a damaged file could point elsewhere.
  auto leaf = info.scope.cgroup.filename().string();
  auto expected = naming.scope_name(info.id);
  if (info.scope.name != expected || !info.scope.cgroup.is_absolute() ||
      (leaf != info.scope.name && leaf != info.scope.name + ".scope"))
    return Error::make(EBADMSG, "session " + info.id + ": its scope is not " + expected);
  info.pid = object.at("pid").get<pid_t>();
  if (info.pid <= 1) return Error::make(EBADMSG, "session " + info.id + ": no valid pid");
  record.pid_start_time = object.at("pid_start_time").get<uint64_t>();
  // Absent in files of a corrald before the uid pool: its sessions shared a uid.
  if (object.contains("uid")) info.uid = object.at("uid").get<std::optional<uid_t>>();
  info.endpoints.devtools_http = optional_field<std::string>(object, "devtools_http");
  info.endpoints.devtools_ws = optional_field<std::string>(object, "devtools_ws");
  info.endpoints.webdriver = optional_field<std::string>(object, "webdriver");
  // Absent in files of a corrald before WebDriver sessions were kept.
  if (object.contains("driver") && !object.at("driver").is_null()) {
    CORRAL_TRY_ASSIGN(info.driver, driver_binding_from(object.at("driver"), info.id));
  }
  // Absent in files of a corrald before DevTools went through corral: an
  // adopted session gets a new one (its old URLs named the browser itself).
  info.access_secret = object.contains("access_secret") ? object.at("access_secret").get<std::string>() : "";
  if (info.access_secret.empty()) info.access_secret = new_access_secret();
  if (info.access_secret.size() != 32 || info.access_secret.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Error::make(EBADMSG, "session " + info.id + ": its access secret is not 32 hex digits");
  info.created_at = from_epoch_ms(object.at("created_at_ms").get<int64_t>());
  info.ttl = milliseconds(object.at("ttl_ms").get<int64_t>());
  info.idle_timeout = milliseconds(object.at("idle_timeout_ms").get<int64_t>());
  // Absent from the files of a corrald before network caps: no cap.
  if (object.contains("network_max_bytes")) {
    info.request.network_max_bytes = optional_field<uint64_t>(object, "requested_network_max_bytes");
    info.network_max_bytes = optional_field<uint64_t>(object, "network_max_bytes");
  }
  info.expires_at = info.created_at + info.ttl;
  info.state = SessionState::running;
  record.warm = object.contains("warm") && object.at("warm").get<bool>();  // absent before the warm pool
  if (object.contains("network_bytes")) {  // absent before counts were kept across a restart: from zero
    record.network_bytes_in = object.at("network_bytes").at("in").get<uint64_t>();
    record.network_bytes_out = object.at("network_bytes").at("out").get<uint64_t>();
  }
  return record;
}

}  // namespace

fs::path session_records_path(const fs::path& state_dir) { return state_dir / "sessions.json"; }

std::string encode_session_records(const std::vector<SessionRecord>& records) {
  json sessions = json::array();
  for (const auto& record : records) sessions.push_back(record_json(record));
  return json{{"version", kFormatVersion}, {"sessions", sessions}}.dump(1) + "\n";
}

Result<std::vector<SessionRecord>> decode_session_records(const std::string& text, const InstanceNaming& naming) {
  try {
    // Written by corrald itself, but a deep or huge one is corrupt like any
    // other: refused before anything walks or copies it.
    auto parsed = parse_json_bounded(text, kStateFileLimits);
    if (!parsed) return Error::make(EBADMSG, "not a state file: " + parsed.error().message);
    json document = std::move(*parsed);
    if (!document.is_object() || document.value("version", 0) != kFormatVersion)
      return Error::make(EBADMSG, "not a version " + std::to_string(kFormatVersion) + " state file");
    std::vector<SessionRecord> records;
    for (const json& object : document.at("sessions")) {
      auto record = record_from(object, naming);
      if (!record) return record.error();
      records.push_back(std::move(*record));
    }
    return records;
  } catch (const json::exception& e) {
    return Error::make(EBADMSG, std::string("not a state file: ") + printable(e.what()));
  }
}

Result<void> save_session_records(const fs::path& file, const std::vector<SessionRecord>& records) {
  return write_file_atomic(file, encode_session_records(records), 0600, Durability::process_crash);
}

Result<std::vector<SessionRecord>> load_session_records(const fs::path& file, const InstanceNaming& naming) {
  auto text = read_file(file, kMaxStateFile);
  if (!text) return text.error();
  return decode_session_records(*text, naming);
}

}  // namespace corral
