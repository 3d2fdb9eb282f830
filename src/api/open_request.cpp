#include "corral/api/open_request.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "corral/api/egress_request.hpp"
#include "corral/util/json_bounded.hpp"
#include "corral/util/units.hpp"

namespace corral {
namespace {
using nlohmann::json;

constexpr uint64_t kMinimumMemory = uint64_t{4} << 20;  // below this not even the stub starts
constexpr uint64_t kMaximumTasks = 4194304;             // the kernel's pid_max ceiling
constexpr size_t kMaximumLabels = 32;
constexpr std::chrono::hours kLongestDuration(24 * 30);  // the daemon's own maximum is checked later

Error bad_type(const std::string& field, const char* expected) {
  return Error::make(EBADMSG, "field '" + field + "' must be " + expected);
}

// A size is a string with a unit ("1536M") or a whole number of bytes;
// "max" means no limit.
Result<std::optional<uint64_t>> parse_memory_field(const json& value, const std::string& field) {
  uint64_t bytes;
  if (value.is_string()) {
    if (value.get<std::string>() == "max") return std::optional<uint64_t>();
    auto parsed = parse_size(value.get<std::string>());
    if (!parsed) return Error::make(EINVAL, field + ": " + parsed.error().message);
    bytes = *parsed;
  } else if (value.is_number_unsigned()) {
    bytes = value.get<uint64_t>();
  } else if (value.is_number_integer()) {
    return Error::make(EINVAL, field + " must not be negative");
  } else if (value.is_number_float()) {
    // A number of the right kind with a wrong value: fractional, or too
    // big for 64 bits (nlohmann reads 2^64 as a double).
    return Error::make(EINVAL, field + " must be a whole number of bytes below 2^64");
  } else {
    return bad_type(field, "a size such as \"1536M\" or a whole number of bytes");
  }
  if (bytes < kMinimumMemory) return Error::make(EINVAL, field + " must be at least 4M");
  return std::optional<uint64_t>(bytes);
}

Result<std::optional<uint64_t>> parse_cpu_field(const json& value) {
  if (value.is_string()) {
    if (value.get<std::string>() == "max") return std::optional<uint64_t>();
    auto parsed = parse_cpu_percent(value.get<std::string>());
    if (!parsed) return Error::make(EINVAL, "cpu_quota: " + parsed.error().message);
    return std::optional<uint64_t>(*parsed);
  }
  if (value.is_number_integer()) return parse_cpu_field(json(std::to_string(value.get<int64_t>())));
  return bad_type("cpu_quota", "a percentage such as \"150%\"");
}

Result<std::optional<uint64_t>> parse_tasks_field(const json& value) {
  if (value.is_string() && value.get<std::string>() == "max") return std::optional<uint64_t>();
  if (value.is_number_float()) return Error::make(EINVAL, "tasks_max must be a whole number");
  if (!value.is_number_integer()) return bad_type("tasks_max", "a whole number");
  if (!value.is_number_unsigned() || value.get<uint64_t>() < 1 || value.get<uint64_t>() > kMaximumTasks)
    return Error::make(EINVAL, "tasks_max must be between 1 and 4194304");
  return std::optional<uint64_t>(value.get<uint64_t>());
}

// Seconds as a number, or "30s", "10m", "2h".
Result<std::optional<std::chrono::milliseconds>> parse_duration_field(const json& value, const std::string& field) {
  std::string text;
  if (value.is_number() && value.get<double>() >= 0) text = std::to_string(value.get<double>());
  else if (value.is_string()) text = value.get<std::string>();
  else if (value.is_number()) return Error::make(EINVAL, field + " must not be negative");
  else return bad_type(field, "seconds, or a duration such as \"30s\", \"10m\", \"2h\"");
  auto parsed = parse_duration(text, kLongestDuration);
  if (!parsed) return Error::make(EINVAL, field + ": " + parsed.error().message);
  if (parsed->count() < 1000) return Error::make(EINVAL, field + " must be at least 1s");
  return std::optional<std::chrono::milliseconds>(*parsed);
}

// Bytes in and out together: a whole number, or a size such as "500M"
// (the launch query's values are strings). No "max": a session without a
// cap asks for none, and gets the daemon's default.
Result<std::optional<uint64_t>> parse_network_max_bytes(const json& value) {
  const char* field = "network_max_bytes";
  uint64_t bytes = 0;
  if (value.is_number_integer() && (value.is_number_unsigned() || value.get<int64_t>() >= 0)) {
    bytes = value.get<uint64_t>();  // a document built in code holds 5000000 as signed
  } else if (value.is_string()) {
    auto parsed = parse_size(value.get<std::string>());
    if (!parsed) return Error::make(EINVAL, std::string(field) + ": " + parsed.error().message);
    bytes = *parsed;
  } else if (value.is_number()) {
    return Error::make(EINVAL, std::string(field) + " must be a whole number of bytes, above 0 and below 2^64");
  } else {
    return bad_type(field, "a whole number of bytes or a size such as \"500M\"");
  }
  if (bytes == 0) return Error::make(EINVAL, std::string(field) + " must be above 0");
  return std::optional<uint64_t>(bytes);
}

Result<std::vector<std::string>> parse_args(const json& value) {
  if (!value.is_array()) return bad_type("args", "an array of strings");
  std::vector<std::string> args;
  for (const auto& arg : value) {
    if (!arg.is_string()) return bad_type("args", "an array of strings");
    args.push_back(arg.get<std::string>());
  }
  return args;
}

bool valid_label_key(const std::string& key) {
  if (key.empty() || key.size() > 63) return false;
  for (char c : key)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != '/') return false;
  return true;
}

// A label's value reaches the journal, Prometheus' text and terminals
// (corralctl top): control characters (C0, DEL, C1 as UTF-8) could forge
// lines or move a cursor there. Other UTF-8 is fine.
bool has_control_characters(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(text[i + 1]) <= 0x9f)
      return true;
  }
  return false;
}

Result<std::map<std::string, std::string>> parse_labels(const json& value) {
  if (!value.is_object()) return bad_type("labels", "an object of strings");
  if (value.size() > kMaximumLabels) return Error::make(EINVAL, "at most 32 labels");
  std::map<std::string, std::string> labels;
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string()) return bad_type("labels." + key, "a string");
    if (!valid_label_key(key)) return Error::make(EINVAL, "label key '" + key + "' must be 1-63 of [A-Za-z0-9_.-/]");
    if (text.get<std::string>().size() > 256) return Error::make(EINVAL, "label '" + key + "' is over 256 bytes");
    if (has_control_characters(text.get<std::string>()))
      return Error::make(EINVAL, "label '" + key + "' has control characters (newline, NUL, escape, ...)");
    labels[key] = text.get<std::string>();
  }
  return labels;
}

// An upstream proxy's URL (upstream_proxy.hpp); its errors never quote it.
Result<std::optional<UpstreamProxy>> parse_proxy_field(const json& value) {
  if (value.is_null()) return std::optional<UpstreamProxy>();
  if (!value.is_string()) return bad_type("proxy", "a string such as \"http://user:password@host:port\"");
  CORRAL_TRY_ASSIGN(auto proxy, parse_upstream_proxy(value.get<std::string>()));
  return std::optional<UpstreamProxy>(std::move(proxy));
}

// Assign a parsed field, or return its error from the enclosing function.
#define CORRAL_ASSIGN(target, expr)            \
  do {                                         \
    auto parsed_ = (expr);                     \
    if (!parsed_) return parsed_.error();      \
    target = std::move(*parsed_);              \
  } while (0)

}  // namespace

Result<SessionRequest> parse_session_request(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return SessionRequest();
  auto document = parse_json_bounded(body);
  if (!document && document.error().code == E2BIG) return Error::make(EBADMSG, "the body is JSON " + document.error().message);
  if (!document) return Error::make(EBADMSG, "the body is not valid JSON");
  return session_request_from(*document);
}

Result<SessionRequest> session_request_from(const json& document) {
  SessionRequest request;
  if (!document.is_object()) return Error::make(EBADMSG, "the body must be a JSON object");
  static const std::set<std::string> known = {"kind", "memory_max", "memory_high", "cpu_quota", "tasks_max",
                                              "args", "labels", "ttl", "idle_timeout", "proxy", "egress",
                                              "network_max_bytes"};
  for (const auto& [key, value] : document.items())
    if (!known.count(key)) return Error::make(EBADMSG, "unknown field '" + key + "'");

  if (document.contains("kind")) {
    if (!document["kind"].is_string()) return bad_type("kind", "a string");
    CORRAL_ASSIGN(request.kind, parse_browser_kind(document["kind"].get<std::string>()));
  }
  if (document.contains("memory_max")) CORRAL_ASSIGN(request.limits.memory_max, parse_memory_field(document["memory_max"], "memory_max"));
  if (document.contains("memory_high")) CORRAL_ASSIGN(request.limits.memory_high, parse_memory_field(document["memory_high"], "memory_high"));
  if (document.contains("cpu_quota")) CORRAL_ASSIGN(request.limits.cpu_percent, parse_cpu_field(document["cpu_quota"]));
  if (document.contains("tasks_max")) CORRAL_ASSIGN(request.limits.tasks_max, parse_tasks_field(document["tasks_max"]));
  if (document.contains("args")) CORRAL_ASSIGN(request.args, parse_args(document["args"]));
  if (document.contains("labels")) CORRAL_ASSIGN(request.labels, parse_labels(document["labels"]));
  if (document.contains("ttl")) CORRAL_ASSIGN(request.ttl, parse_duration_field(document["ttl"], "ttl"));
  if (document.contains("idle_timeout"))
    CORRAL_ASSIGN(request.idle_timeout, parse_duration_field(document["idle_timeout"], "idle_timeout"));
  if (document.contains("proxy")) CORRAL_ASSIGN(request.proxy, parse_proxy_field(document["proxy"]));
  if (document.contains("egress")) CORRAL_ASSIGN(request.egress, parse_egress_field(document["egress"]));
  if (document.contains("network_max_bytes"))
    CORRAL_ASSIGN(request.network_max_bytes, parse_network_max_bytes(document["network_max_bytes"]));

  const Limits& limits = request.limits;
  if (limits.memory_max && limits.memory_high && *limits.memory_high > *limits.memory_max)
    return Error::make(EINVAL, "memory_high must not be above memory_max");
  CORRAL_TRY(check_client_args(request.kind, request.args));
  return request;
}

}  // namespace corral
