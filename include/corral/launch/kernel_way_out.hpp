// A way out of a session's network namespace that the kernel forwards,
// instead of the egress relay (session_way_out.hpp). Each session gets a
// veth pair (host end "cw<id>", its end "eth0" in its namespace), a /30
// from a pool and a default route; this corrald's own nftables table
// (kernel_way_out_rules.hpp) masquerades what leaves by the uplinks,
// refuses the host and the default policy's ranges, and counts each
// session's bytes and refusals. Forwarding is turned on per device (the
// session's host end, and an uplink where it was off), never
// net.ipv4.ip_forward. Links and rules are asked of the kernel from
// corrald's own process (rtnetlink.hpp, nftables.hpp). Made at start, removed at a clean stop, left in
// place across a crash for the next run to adopt. docs/network.md, "The
// kernel way out".
//
// Several corralds on one host (instances, test runs) each have a table of
// their own, named in their state dir, whose rules match only their own
// devices; the kernel settles who has which /30 (a route that exists
// already fails), and the uplinks' forwarding is turned off by the last
// corrald that needs it, under a HostMutex.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "corral/egress/egress_relay.hpp"
#include "corral/launch/kernel_way_out_rules.hpp"

namespace corral {

struct KernelWayOutConfig {
  Ipv4Pool pool;
  /// Devices sessions' packets leave by; empty: those of the host's default routes.
  std::vector<std::string> uplinks;
  std::vector<std::string> allowed_ranges;  ///< IPv4 ranges, --egress-allow's
  std::filesystem::path state_dir;          ///< where this corrald's table is named
  std::string table_base = kWayOutTablePrefix;  ///< its table's name, unless another corrald has it
};

class KernelWayOut {
 public:
  /// The table made (or a crashed run's adopted, its rules made anew), forwarding on at the uplinks.
  static Result<std::unique_ptr<KernelWayOut>> start(KernelWayOutConfig config);
  ~KernelWayOut();  ///< a clean stop: the table deleted, the uplinks' forwarding restored
  KernelWayOut(const KernelWayOut&) = delete;
  KernelWayOut& operator=(const KernelWayOut&) = delete;

  const std::string& table() const { return m_table; }
  /// Give session `id`, whose network namespace is `netns_fd`, its veth, address, route and counters.
  Result<void> open(const std::string& id, int netns_fd);
  /// An earlier run's session: true if its device is still here (it is kept).
  bool adopt(const std::string& id);
  /// Remove the devices and counters of earlier sessions nobody adopted.
  void forget_unadopted();
  /// Its bytes (forwarded packets, headers included) and refusals so far; nullopt: not a session of this way out.
  std::optional<EgressCounters> counters(const std::string& id) const;
  /// Its device and counters gone. Safe to call for any id.
  void close(const std::string& id);

 private:
  explicit KernelWayOut(KernelWayOutConfig config) : m_config(std::move(config)) {}
  Result<void> name_table(bool& adopting);
  Result<void> turn_on_uplinks(const std::vector<std::string>& guarded_by_others);
  Result<void> make_table(bool adopting);
  void find_earlier_devices();
  std::optional<uint32_t> take_subnet();
  Result<void> make_device(const std::string& device, int netns_fd, SessionSubnet& subnet, uint32_t& index);
  void remove_device(const std::string& device);
  std::optional<std::string> counter_listing() const;

  static constexpr std::chrono::milliseconds kFreshCounters{50};

  KernelWayOutConfig m_config;
  std::string m_table;
  std::vector<std::string> m_guarded;  ///< uplinks whose forwarding corral turned on (off before)
  mutable std::mutex m_mutex;
  std::map<std::string, uint32_t> m_sessions;               ///< id: its subnet's index
  std::map<std::string, std::optional<uint32_t>> m_earlier;  ///< devices found at start, not yet adopted
  std::vector<bool> m_used;                                 ///< by subnet index: ours
  std::vector<bool> m_foreign;                              ///< by subnet index: another corrald's, when last tried
  mutable std::mutex m_listing_mutex;                       ///< guards the two below
  mutable std::optional<std::string> m_listing;             ///< the last `nft list counters`
  mutable std::chrono::steady_clock::time_point m_listed_at;
};

}  // namespace corral
