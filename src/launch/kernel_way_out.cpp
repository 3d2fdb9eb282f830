#include "corral/launch/kernel_way_out.hpp"


#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <sstream>

#include "corral/launch/nftables.hpp"
#include "corral/launch/rtnetlink.hpp"
#include "corral/net/in_network_namespace.hpp"
#include "corral/util/file_io.hpp"
#include "corral/util/host_mutex.hpp"

namespace corral {
namespace fs = std::filesystem;

namespace {

// Held while a corrald makes or deletes its table and turns an uplink's
// forwarding on or off: what the others' tables say must not change meanwhile.
constexpr const char* kHostMutex = "corral-kernel-way-out";
constexpr std::chrono::seconds kHostMutexPatience{10};
// A /30 another corrald has is passed by; this many in a row, and the pool is taken as full.
constexpr int kSubnetTries = 64;

Result<std::string> listed_table(const std::string& table) { return run_nft("list table inet " + table); }

fs::path forwarding_path(const std::string& device) { return "/proc/sys/net/ipv4/conf/" + device + "/forwarding"; }

Result<void> write_forwarding(const std::string& device, const char* value) {
  return write_control_file(forwarding_path(device), value);
}

// The name of this corrald's table, kept for the next run to adopt after a crash.
fs::path table_name_path(const fs::path& state_dir) { return state_dir / "kernel-way-out-table"; }

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> all;
  for (std::string word; in >> word;) all.push_back(word);
  return all;
}

bool contains(const std::vector<std::string>& all, const std::string& one) {
  return std::find(all.begin(), all.end(), one) != all.end();
}

std::vector<std::string> way_out_tables_now() {
  auto listed = run_nft("list tables");
  return listed ? way_out_tables_in(*listed) : std::vector<std::string>{};
}

// The uplinks that the other corralds' tables guard: forwarding there was
// off before corral, whichever corrald turned it on.
std::vector<std::string> guarded_by_others(const std::string& mine) {
  std::vector<std::string> guarded;
  for (const auto& table : way_out_tables_now()) {
    if (table == mine) continue;
    if (auto listing = listed_table(table))
      for (auto& uplink : guarded_uplinks_in(*listing)) guarded.push_back(std::move(uplink));
  }
  return guarded;
}

std::string random_suffix() {
  std::random_device random;
  char text[9];
  std::snprintf(text, sizeof text, "%08x", random());
  return text;
}

// What the session's namespace holds of its way out: its end of the pair,
// and the rule that keeps its pages off its own loopback.
Result<void> configure_session_side(int netns_fd, const SessionSubnet& subnet) {
  CORRAL_TRY(in_network_namespace(netns_fd, [&subnet] { return configure_inside_end(subnet); }));
  CORRAL_TRY(run_nft(inside_loopback_guard(), netns_fd));
  return success();
}

}  // namespace

Result<std::unique_ptr<KernelWayOut>> KernelWayOut::start(KernelWayOutConfig config) {
  if (config.uplinks.empty()) config.uplinks = default_route_devices();
  if (config.uplinks.empty())
    return Error::make(ENETUNREACH, "no uplink: the host has no default route; name one with --session-way-out-uplink");
  std::unique_ptr<KernelWayOut> way_out(new KernelWayOut(std::move(config)));
  way_out->m_used.assign(way_out->m_config.pool.subnets(), false);
  way_out->m_foreign.assign(way_out->m_config.pool.subnets(), false);
  way_out->m_used[0] = true;  // the pool's first /30 stays free: its first address is easy to mistake for a gateway
  auto started = [&way_out]() -> Result<void> {
    CORRAL_TRY_ASSIGN(auto held, HostMutex::lock(kHostMutex, kHostMutexPatience));
    bool adopting = false;
    CORRAL_TRY(way_out->name_table(adopting));
    CORRAL_TRY(way_out->turn_on_uplinks(guarded_by_others(way_out->m_table)));
    CORRAL_TRY(way_out->make_table(adopting));
    return success();
  }();
  if (!started) return started.error();  // the destructor undoes what was done
  way_out->find_earlier_devices();
  return way_out;
}

// The table an earlier run of ours left (its name in our state dir), or a
// name no other corrald's table has.
Result<void> KernelWayOut::name_table(bool& adopting) {
  auto tables = way_out_tables_now();
  if (auto named = read_file(table_name_path(m_config.state_dir))) {
    auto name = words(*named);
    if (!name.empty() && contains(tables, name.front())) {
      m_table = name.front();
      adopting = true;
      if (auto listing = listed_table(m_table)) m_guarded = guarded_uplinks_in(*listing);
      return success();
    }
  }
  m_table = m_config.table_base;
  while (contains(tables, m_table)) m_table = m_config.table_base + "_" + random_suffix();
  return write_file_atomic(table_name_path(m_config.state_dir), m_table + "\n", 0600);
}

Result<void> KernelWayOut::turn_on_uplinks(const std::vector<std::string>& guarded_by_others) {
  for (const auto& uplink : m_config.uplinks) {
    auto now = read_file(forwarding_path(uplink));
    if (!now) return Error::make(ENODEV, "uplink '" + uplink + "': " + now.error().message);
    bool ours = contains(m_guarded, uplink);
    if (now->starts_with("1") && !ours && contains(guarded_by_others, uplink)) m_guarded.push_back(uplink);
    if (now->starts_with("1")) continue;  // on already: the host routes there, or a corrald turned it on
    CORRAL_TRY(write_forwarding(uplink, "1"));
    if (!ours) m_guarded.push_back(uplink);
  }
  return success();
}

// Adopted, its rules are made anew from this run's settings; its set, maps
// and counters (the adopted sessions' counts) stay.
Result<void> KernelWayOut::make_table(bool adopting) {
  std::string text;
  if (adopting)
    for (const char* chain : {"input", "forward", "postrouting"})
      text += "flush chain inet " + m_table + " " + chain + "\n";
  text += way_out_table({m_table, m_config.pool, m_guarded, m_config.allowed_ranges});
  if (auto made = run_nft(text); !made)
    return Error::make(made.error().code, "cannot make table inet " + m_table + ": " + made.error().message);
  std::string uplinks;
  for (const auto& uplink : m_config.uplinks) uplinks += (uplinks.empty() ? "" : ", ") + uplink;
  spdlog::info("kernel way out: table inet {} ({}), sessions' /30s from {}, out by {} (forwarding turned on by corral "
               "at {} of them)", m_table, adopting ? "an earlier run's, kept" : "made", m_config.pool.to_string(),
               uplinks, m_guarded.size());
  return success();
}

// The devices in our table's set, and the /30 each has an address in.
void KernelWayOut::find_earlier_devices() {
  auto listing = listed_table(m_table);
  if (!listing) return;
  auto devices = session_devices_in(*listing);
  std::map<std::string, uint32_t> subnets;
  for (const auto& [address, device] : ipv4_addresses())
    if (auto index = subnet_index_of(m_config.pool, address)) subnets[device] = *index;
  std::lock_guard lock(m_mutex);
  for (const auto& device : devices) {
    auto found = subnets.find(device);
    std::optional<uint32_t> index;
    if (found != subnets.end()) index = found->second, m_used[found->second] = true;
    m_earlier[device.substr(std::string(kSessionDevicePrefix).size())] = index;
  }
}

KernelWayOut::~KernelWayOut() {
  auto held = HostMutex::lock(kHostMutex, kHostMutexPatience);
  if (!held) spdlog::warn("kernel way out: stopping without the other corralds' word: {}", held.error().message);
  if (!m_table.empty()) (void)run_nft("delete table inet " + m_table);
  auto still_needed = guarded_by_others(m_table);
  for (const auto& uplink : m_guarded) {
    if (contains(still_needed, uplink)) {
      spdlog::info("kernel way out: forwarding at {} stays on: another corrald's sessions leave by it", uplink);
      continue;
    }
    if (auto restored = write_forwarding(uplink, "0"); !restored)
      spdlog::warn("kernel way out: forwarding at {} stays on: {}", uplink, restored.error().message);
  }
  std::error_code ec;
  fs::remove(table_name_path(m_config.state_dir), ec);
  spdlog::info("kernel way out: table inet {} removed, forwarding restored", m_table);
}

// Under m_mutex. Another corrald's /30s are tried again once the pool seems full.
std::optional<uint32_t> KernelWayOut::take_subnet() {
  for (int round = 0; round < 2; ++round) {
    for (uint32_t i = 0; i < m_used.size(); ++i)
      if (!m_used[i] && !m_foreign[i]) {
        m_used[i] = true;
        return i;
      }
    std::fill(m_foreign.begin(), m_foreign.end(), false);
  }
  return std::nullopt;
}

// The pair and its /30: a /30 whose route exists already is another
// corrald's (its route add fails with EEXIST), so the next is tried.
Result<void> KernelWayOut::make_device(const std::string& device, int netns_fd, SessionSubnet& subnet,
                                       uint32_t& index) {
  for (int tries = 0; tries < kSubnetTries; ++tries) {
    std::optional<uint32_t> taken;
    {
      std::lock_guard lock(m_mutex);
      taken = take_subnet();
    }
    if (!taken) break;
    subnet = subnet_at(m_config.pool, *taken);
    auto made = make_veth_pair(device, netns_fd, subnet);
    if (made) return index = *taken, success();
    (void)delete_link(device);
    std::lock_guard lock(m_mutex);
    m_used[*taken] = false;
    if (made.error().code != EEXIST) return made.error();
    m_foreign[*taken] = true;
  }
  return Error::make(ENOSPC, "the kernel way out's pool " + m_config.pool.to_string() + " is used up");
}

Result<void> KernelWayOut::open(const std::string& id, int netns_fd) {
  auto started = std::chrono::steady_clock::now();
  auto device = session_device(id);
  SessionSubnet subnet;
  uint32_t index = 0;
  CORRAL_TRY(make_device(device, netns_fd, subnet, index));
  Result<void> done = write_forwarding(device, "1");
  if (done) done = configure_session_side(netns_fd, subnet);
  if (done) {
    auto counted = run_nft(session_device_added(m_table, device));
    if (!counted) done = counted.error();
  }
  if (!done) {
    remove_device(device);
    std::lock_guard lock(m_mutex);
    m_used[index] = false;
    return done;
  }
  std::lock_guard lock(m_mutex);
  m_sessions[id] = index;
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("session {}: kernel way out {} {} -> {} in {:.1f} ms", id, device, subnet.inside, subnet.host, ms);
  return success();
}

bool KernelWayOut::adopt(const std::string& id) {
  std::lock_guard lock(m_mutex);
  auto found = m_earlier.find(id);
  if (found == m_earlier.end() || !found->second) return false;
  m_sessions[id] = *found->second;
  m_earlier.erase(found);
  return true;
}

void KernelWayOut::forget_unadopted() {
  std::lock_guard lock(m_mutex);
  for (const auto& [id, index] : m_earlier) {
    remove_device(session_device(id));
    if (index) m_used[*index] = false;
  }
  m_earlier.clear();
}

std::optional<EgressCounters> KernelWayOut::counters(const std::string& id) const {
  {
    std::lock_guard lock(m_mutex);
    if (!m_sessions.contains(id)) return std::nullopt;
  }
  EgressCounters counts;
  auto listing = counter_listing();
  if (!listing) return counts;
  auto device = device_counts(*listing, session_device(id));
  counts.bytes_out = device.bytes_out;
  counts.bytes_in = device.bytes_in;
  for (const auto& [reason, refused] : device.refused) counts.refused[static_cast<size_t>(reason)] = refused;
  return counts;
}

// Every session's counts come from one `nft list counters`, at most one
// every kFreshCounters: a list of all sessions (and the state file's
// checkpoint) asks for each, some under the session manager's lock.
std::optional<std::string> KernelWayOut::counter_listing() const {
  std::lock_guard lock(m_listing_mutex);
  auto now = std::chrono::steady_clock::now();
  if (!m_listing || now - m_listed_at > kFreshCounters) {
    auto listed = run_nft("list counters table inet " + m_table);
    m_listing = listed ? std::optional(std::move(*listed)) : std::nullopt;
    m_listed_at = now;
  }
  return m_listing;
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
  if (auto deleted = delete_link(device); !deleted) spdlog::warn("kernel way out: {}", deleted.error().message);
  if (auto removed = run_nft(session_device_removed(m_table, device)); !removed)
    spdlog::debug("kernel way out: {}'s counters: {}", device, removed.error().message);
}

}  // namespace corral
