#include "corral/launch/kernel_way_out.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>

#include "corral/launch/tool_run.hpp"
#include "corral/util/file_io.hpp"

namespace corral {
namespace fs = std::filesystem;

namespace {

std::string tool(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"})
    if (::access((std::string(dir) + name).c_str(), X_OK) == 0) return std::string(dir) + name;
  return std::string("/usr/sbin/") + name;
}

Result<std::string> nft(const std::string& input) { return run_tool({tool("nft"), "-f", "-"}, input); }
Result<std::string> ip_batch(const std::string& input, int netns_fd = -1) {
  return run_tool({tool("ip"), "-batch", "-"}, input, netns_fd);
}

fs::path forwarding_path(const std::string& device) { return "/proc/sys/net/ipv4/conf/" + device + "/forwarding"; }

Result<void> write_forwarding(const std::string& device, const char* value) {
  return write_control_file(forwarding_path(device), value);
}

// Which uplinks an earlier run turned forwarding on at and did not live to
// turn off: still ours to turn off at a clean stop.
fs::path remembered_path(const fs::path& state_dir) { return state_dir / "kernel-way-out-forwarding"; }

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> all;
  for (std::string word; in >> word;) all.push_back(word);
  return all;
}

// The devices of the host's default routes: where the world is.
std::vector<std::string> default_route_devices() {
  auto routes = run_tool({tool("ip"), "-4", "route", "show", "default"}, "");
  std::vector<std::string> devices;
  if (!routes) return devices;
  auto all = words(*routes);
  for (size_t i = 0; i + 1 < all.size(); ++i)
    if (all[i] == "dev") devices.push_back(all[i + 1]);
  return devices;
}

}  // namespace

Result<std::unique_ptr<KernelWayOut>> KernelWayOut::start(KernelWayOutConfig config) {
  if (config.uplinks.empty()) config.uplinks = default_route_devices();
  if (config.uplinks.empty())
    return Error::make(ENETUNREACH, "no uplink: the host has no default route; name one with --session-way-out-uplink");
  std::unique_ptr<KernelWayOut> way_out(new KernelWayOut(std::move(config)));
  way_out->m_used.assign(way_out->m_config.pool.subnets(), false);
  way_out->m_used[0] = true;  // the pool's first /30 stays free: its first address is easy to mistake for a gateway
  CORRAL_TRY(way_out->turn_on_uplinks());
  CORRAL_TRY(way_out->make_or_adopt_table());
  way_out->find_earlier_devices();
  return way_out;
}

Result<void> KernelWayOut::turn_on_uplinks() {
  auto remembered = read_file(remembered_path(m_config.state_dir));
  if (remembered) m_guarded = words(*remembered);
  for (const auto& uplink : m_config.uplinks) {
    auto now = read_file(forwarding_path(uplink));
    if (!now) return Error::make(ENODEV, "uplink '" + uplink + "': " + now.error().message);
    if (now->starts_with("1")) continue;  // on already: the host routes there (or an earlier run of ours did)
    CORRAL_TRY(write_forwarding(uplink, "1"));
    m_guarded.push_back(uplink);
  }
  std::string list;
  for (const auto& uplink : m_guarded) list += uplink + "\n";
  return write_file_atomic(remembered_path(m_config.state_dir), list, 0600);
}

Result<void> KernelWayOut::make_or_adopt_table() {
  auto listed = run_tool({tool("nft"), "list", "table", "inet", kWayOutTable}, "");
  if (listed) {
    spdlog::info("kernel way out: kept the table inet {} an earlier run left", kWayOutTable);
    return success();
  }
  auto made = nft(way_out_table({m_config.pool, m_config.uplinks, m_guarded, m_config.allowed_ranges}));
  if (!made) return Error::make(made.error().code, "cannot make table inet " + std::string(kWayOutTable) + ": " +
                                                       made.error().message);
  std::string uplinks;
  for (const auto& uplink : m_config.uplinks) uplinks += (uplinks.empty() ? "" : ", ") + uplink;
  spdlog::info("kernel way out: table inet {}, sessions' /30s from {}, out by {} (forwarding turned on at {} of them)",
               kWayOutTable, m_config.pool.to_string(), uplinks, m_guarded.size());
  return success();
}

// `ip -o -4 addr show`: "7: cw0123456789ab    inet 10.201.0.5/30 brd ...".
void KernelWayOut::find_earlier_devices() {
  auto shown = run_tool({tool("ip"), "-o", "-4", "addr", "show"}, "");
  if (!shown) return;
  std::istringstream lines(*shown);
  for (std::string line; std::getline(lines, line);) {
    auto all = words(line);
    if (all.size() < 4 || !all[1].starts_with(kSessionDevicePrefix) || all[2] != "inet") continue;
    auto device = all[1].substr(0, all[1].find('@'));
    auto index = subnet_index_of(m_config.pool, all[3].substr(0, all[3].find('/')));
    if (!index) continue;
    m_earlier[device.substr(2)] = *index;
    m_used[*index] = true;
  }
}

KernelWayOut::~KernelWayOut() {
  (void)run_tool({tool("nft"), "delete", "table", "inet", kWayOutTable}, "");
  for (const auto& uplink : m_guarded)
    if (auto restored = write_forwarding(uplink, "0"); !restored)
      spdlog::warn("kernel way out: forwarding at {} stays on: {}", uplink, restored.error().message);
  std::error_code ec;
  fs::remove(remembered_path(m_config.state_dir), ec);
  spdlog::info("kernel way out: table inet {} removed, forwarding restored", kWayOutTable);
}

std::optional<uint32_t> KernelWayOut::take_subnet() {
  for (uint32_t i = 0; i < m_used.size(); ++i)
    if (!m_used[i]) {
      m_used[i] = true;
      return i;
    }
  return std::nullopt;
}

Result<void> KernelWayOut::open(const std::string& id, pid_t pid, int netns_fd) {
  auto started = std::chrono::steady_clock::now();
  auto device = session_device(id);
  std::optional<uint32_t> index;
  {
    std::lock_guard lock(m_mutex);
    index = take_subnet();
  }
  if (!index) return Error::make(ENOSPC, "the kernel way out's pool " + m_config.pool.to_string() + " is used up");
  auto subnet = subnet_at(m_config.pool, *index);
  auto made = ip_batch(host_end_batch(device, pid, subnet));
  Result<void> done = made ? write_forwarding(device, "1") : Result<void>(made.error());
  if (done) {
    auto inside = ip_batch(inside_end_batch(subnet), netns_fd);
    if (inside) inside = run_tool({tool("nft"), "-f", "-"}, inside_loopback_guard(), netns_fd);
    auto counted = inside ? nft(session_counters_added(device)) : inside;
    if (!counted) done = counted.error();
  }
  std::lock_guard lock(m_mutex);
  if (!done) {
    if (made) remove_device(device);
    m_used[*index] = false;
    return done;
  }
  m_sessions[id] = *index;
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("session {}: kernel way out {} {} -> {} in {:.1f} ms", id, device, subnet.inside, subnet.host, ms);
  return success();
}

bool KernelWayOut::adopt(const std::string& id) {
  std::lock_guard lock(m_mutex);
  auto found = m_earlier.find(id);
  if (found == m_earlier.end()) return false;
  m_sessions[id] = found->second;
  m_earlier.erase(found);
  return true;
}

void KernelWayOut::forget_unadopted() {
  std::lock_guard lock(m_mutex);
  for (const auto& [id, index] : m_earlier) {
    remove_device(session_device(id));
    m_used[index] = false;
  }
  m_earlier.clear();
}

std::optional<EgressCounters> KernelWayOut::counters(const std::string& id) const {
  {
    std::lock_guard lock(m_mutex);
    if (!m_sessions.contains(id)) return std::nullopt;
  }
  auto listing = run_tool({tool("nft"), "list", "counters", "table", "inet", kWayOutTable}, "");
  EgressCounters counts;
  if (!listing) return counts;
  auto device = session_device(id);
  counts.bytes_out = counter_bytes(*listing, device + "_out").value_or(0);
  counts.bytes_in = counter_bytes(*listing, device + "_in").value_or(0);
  return counts;
}

void KernelWayOut::close(const std::string& id) {
  std::lock_guard lock(m_mutex);
  auto found = m_sessions.find(id);
  if (found == m_sessions.end()) return;
  remove_device(session_device(id));
  m_used[found->second] = false;
  m_sessions.erase(found);
}

// Deleting the host end deletes the pair (gone already if the namespace
// ended); the counters go with their map entries.
void KernelWayOut::remove_device(const std::string& device) {
  (void)run_tool({tool("ip"), "link", "del", device}, "");
  if (auto removed = nft(session_counters_removed(device)); !removed)
    spdlog::debug("kernel way out: {}'s counters: {}", device, removed.error().message);
}

}  // namespace corral
