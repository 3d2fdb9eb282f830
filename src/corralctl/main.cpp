// corralctl: open, list, show and close corral sessions from a shell.
// Human tables by default, the daemon's JSON with --json.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "corral/util/token_file.hpp"
#include "top.hpp"

namespace {
using corralctl::call;
using corralctl::Target;
using nlohmann::json;

std::string text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string megabytes(const json& value) {
  if (!value.is_number()) return "-";
  char out[32];
  std::snprintf(out, sizeof out, "%.1fM", value.get<double>() / (1 << 20));
  return out;
}

void print_table(const json& sessions) {
  std::printf("%-12s %-12s %-8s %-6s %-9s %-9s %-5s %-8s %s\n", "ID", "KIND", "STATE", "PID", "MEM", "MEM_MAX", "PROCS",
              "CREATED", "ENDPOINT");
  for (const auto& s : sessions) {
    std::string endpoint = s["webdriver"].is_string() ? text(s["webdriver"])
                           : s["devtools"].is_object() ? text(s["devtools"]["ws"]) : "-";
    json stats = s.value("stats", json::object());
    std::printf("%-12s %-12s %-8s %-6s %-9s %-9s %-5s %-8s %s\n", text(s["id"]).c_str(), text(s["kind"]).c_str(),
                text(s["state"]).c_str(), text(s["pid"]).c_str(), megabytes(stats.value("memory_current", json())).c_str(),
                megabytes(s["limits"]["memory_max"]).c_str(), text(stats.value("pids", json())).c_str(),
                text(s["created_at"]).substr(11, 8).c_str(), endpoint.c_str());
  }
}

void print_details(const json& s) {
  for (const char* key : {"id", "kind", "state", "unit", "cgroup", "pid", "webdriver", "created_at"})
    std::printf("%-12s %s\n", key, text(s[key]).c_str());
  if (s["devtools"].is_object()) std::printf("%-12s %s\n", "devtools", text(s["devtools"]["ws"]).c_str());
  std::printf("%-12s %s\n", "limits", s["limits"].dump().c_str());
  std::printf("%-12s %s\n", "enforced", s["enforced"].dump().c_str());
  if (s.contains("stats")) {
    const auto& st = s["stats"];
    std::printf("%-12s memory %s (peak %s), %s processes, cpu %s us, oom kills %s\n", "use",
                megabytes(st["memory_current"]).c_str(), megabytes(st["memory_peak"]).c_str(), text(st["pids"]).c_str(),
                text(st["cpu_usage_usec"]).c_str(), text(st["oom_kills"]).c_str());
  }
  if (s.contains("exit")) std::printf("%-12s %s\n", "exit", text(s["exit"]["description"]).c_str());
  if (s.contains("report")) std::printf("%-12s %s\n", "report", s["report"].dump().c_str());
}

void print_report(const json& r) {
  std::printf("closed %s: %s processes killed, %s, verified empty: %s, %s ms\n", text(r["id"]).c_str(),
              text(r["processes_killed"]).c_str(), r.value("graceful", false) ? "graceful" : "forced",
              r.value("verified_empty", false) ? "yes" : "NO", text(r["duration_ms"]).c_str());
}

void output(const Target& target, const json& reply, void (*human)(const json&)) {
  if (target.json_output) std::cout << reply.dump(2) << "\n";
  else human(reply);
}

// What `corralctl open` asks for, as typed.
struct OpenFlags {
  std::string kind = "chrome", memory_max, memory_high, cpu_quota;
  int tasks_max = 0;
  std::vector<std::string> args, labels;
};

CLI::App* add_open_command(CLI::App& app, OpenFlags& flags) {
  auto* open = app.add_subcommand("open", "open a session");
  open->add_option("--kind", flags.kind, "chrome or chromedriver")->capture_default_str();
  open->add_option("--memory-max", flags.memory_max, "e.g. 1536M");
  open->add_option("--memory-high", flags.memory_high, "e.g. 1G");
  open->add_option("--cpu-quota", flags.cpu_quota, "e.g. 150%");
  open->add_option("--tasks-max", flags.tasks_max, "maximum number of tasks");
  open->add_option("--arg", flags.args, "extra browser flag (allowlisted), repeatable");
  open->add_option("--label", flags.labels, "KEY=VALUE, repeatable");
  return open;
}

// The POST /v1/sessions body; exits with a usage error on a bad --label.
json open_body(const OpenFlags& flags) {
  json body = {{"kind", flags.kind}};
  if (!flags.memory_max.empty()) body["memory_max"] = flags.memory_max;
  if (!flags.memory_high.empty()) body["memory_high"] = flags.memory_high;
  if (!flags.cpu_quota.empty()) body["cpu_quota"] = flags.cpu_quota;
  if (flags.tasks_max) body["tasks_max"] = flags.tasks_max;
  if (!flags.args.empty()) body["args"] = flags.args;
  for (const auto& label : flags.labels) {
    auto eq = label.find('=');
    if (eq == std::string::npos) {
      std::cerr << "corralctl: --label wants KEY=VALUE\n";
      std::exit(2);
    }
    body["labels"][label.substr(0, eq)] = label.substr(eq + 1);
  }
  return body;
}

// The token, if a file was named; exits on a bad one.
void load_token(const std::string& token_file, Target& target) {
  if (token_file.empty()) return;
  auto file = corral::read_token_file(token_file);
  if (!file) {
    std::cerr << "corralctl: " << file.error().message << "\n";
    std::exit(2);
  }
  target.token = file->token;
}

}  // namespace

int main(int argc, char** argv) {
  Target target;
  CLI::App app{"corralctl: manage corral browser sessions"};
  std::string token_file;
  app.add_option("--url", target.url, "corrald's address: http://HOST:PORT or unix:/PATH")
      ->capture_default_str()
      ->envname("CORRAL_URL");
  app.add_option("--token-file", token_file, "file with the API token, if corrald asks for one")
      ->envname("CORRAL_TOKEN_FILE");
  app.add_flag("--json", target.json_output, "print the daemon's JSON");
  app.require_subcommand(1);

  OpenFlags open_flags;
  auto* open = add_open_command(app, open_flags);
  auto* ls = app.add_subcommand("ls", "list open sessions");
  std::string id, grace;
  auto* show = app.add_subcommand("show", "show one session with live use");
  show->add_option("id", id, "session id")->required();
  auto* close = app.add_subcommand("close", "close a session: SIGTERM, then cgroup.kill, verified");
  close->add_option("id", id, "session id")->required();
  close->add_option("--grace", grace, "seconds before cgroup.kill (0 = at once)");
  auto* health = app.add_subcommand("health", "show the daemon's backend and controllers");
  corralctl::TopOptions top_options;
  auto* top = corralctl::add_top_command(app, top_options, target.json_output);
  CLI11_PARSE(app, argc, argv);
  load_token(token_file, target);

  if (open->parsed()) {
    output(target, call(target, "POST", "/v1/sessions", open_body(open_flags).dump()), print_details);
  } else if (ls->parsed()) {
    auto reply = call(target, "GET", "/v1/sessions");
    if (target.json_output) std::cout << reply.dump(2) << "\n";
    else print_table(reply["sessions"]);
  } else if (show->parsed()) {
    output(target, call(target, "GET", "/v1/sessions/" + id), print_details);
  } else if (close->parsed()) {
    std::string path = "/v1/sessions/" + id + (grace.empty() ? "" : "?grace=" + grace);
    output(target, call(target, "DELETE", path), print_report);
  } else if (top->parsed()) {
    return corralctl::run_top(target, top_options);
  } else if (health->parsed()) {
    std::cout << call(target, "GET", "/v1/health").dump(2) << "\n";
  }
  return 0;
}
