#include <doctest/doctest.h>

#include "corral/launch/kernel_way_out_rules.hpp"

using namespace corral;

TEST_CASE("kernel way out: a pool gives /30s, and an address finds its /30 again") {
  auto pool = Ipv4Pool::parse("10.201.0.0/16");
  REQUIRE(pool.ok());
  CHECK(pool->subnets() == 16384);
  CHECK(pool->to_string() == "10.201.0.0/16");
  auto third = subnet_at(*pool, 3);
  CHECK(third.host == "10.201.0.13");
  CHECK(third.inside == "10.201.0.14");
  CHECK(subnet_index_of(*pool, "10.201.0.14") == 3u);
  CHECK(subnet_index_of(*pool, "10.201.255.253") == 16383u);
  CHECK_FALSE(subnet_index_of(*pool, "10.202.0.1").has_value());
  CHECK_FALSE(subnet_index_of(*pool, "10.200.255.255").has_value());
  CHECK_FALSE(Ipv4Pool::parse("10.201.0.1/16").ok());  // bits past the prefix
  CHECK_FALSE(Ipv4Pool::parse("10.201.0.0/31").ok());
  CHECK_FALSE(Ipv4Pool::parse("10.201.0.0").ok());
  CHECK_FALSE(Ipv4Pool::parse("nonsense/16").ok());
}

TEST_CASE("kernel way out: the table refuses the host and the private ranges, and guards only uplinks it turned on") {
  auto pool = Ipv4Pool::parse("10.201.0.0/16").value();
  auto table = way_out_table({"corral_way_out_ci", pool, {"wan1"}, {"192.168.7.0/24"}});
  CHECK(table.find("table inet corral_way_out_ci {") == 0);
  CHECK(table.find("iifname @session_devices fib daddr type local counter name iifname map @refused_local reject") !=
        std::string::npos);
  for (const char* range : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
                            "127.0.0.0/8", "224.0.0.0/4"})
    CHECK_MESSAGE(table.find(range) != std::string::npos, range);
  // Each refusal counted under the reason the relay would give.
  CHECK(table.find("ip daddr { 169.254.0.0/16 } counter name iifname map @refused_link_local reject") !=
        std::string::npos);
  CHECK(table.find("ip daddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 } counter name iifname map "
                   "@refused_private reject") != std::string::npos);
  CHECK(table.find("ip daddr { 127.0.0.0/8 } counter name iifname map @refused_local") != std::string::npos);
  CHECK(table.find("meta nfproto ipv6 reject") != std::string::npos);
  // Only this corrald's devices: no rule names a device pattern as where a packet comes from.
  CHECK(table.find("iifname \"cw*\"") == std::string::npos);
  CHECK(table.find("iifname @session_devices oifname \"cw*\" counter name iifname map @refused_private") !=
        std::string::npos);
  // The operator's allowed range is accepted before the refusals.
  CHECK(table.find("192.168.7.0/24") < table.find("10.0.0.0/8"));
  CHECK(table.find("ip saddr 10.201.0.0/16 oifname != \"cw*\" masquerade") != std::string::npos);
  // Nothing opens a connection into a session: not another host (forward), not this one (output).
  auto inward = "oifname @session_devices ct state new reject";
  CHECK(table.find(inward, table.find("chain output")) < table.find("chain forward"));
  CHECK(table.find(inward, table.find("chain forward")) != std::string::npos);
  CHECK(table.find("iifname \"wan1\" oifname \"cw*\" ct state established,related accept") != std::string::npos);
  CHECK(guarded_uplinks_in(table) == std::vector<std::string>{"wan1"});
  auto unguarded = way_out_table({"corral_way_out", pool, {}, {}});
  CHECK(unguarded.find(" drop") == std::string::npos);
  CHECK(guarded_uplinks_in(unguarded).empty());
}

TEST_CASE("kernel way out: what nft lists is read back") {
  std::string tables = "table inet filter\ntable inet corral_way_out\ntable ip corral_way_out_x\n"
                       "table inet corral_way_out_ci_1a2b\ntable inet corral_way_outer\n";
  CHECK(way_out_tables_in(tables) == std::vector<std::string>{"corral_way_out", "corral_way_out_ci_1a2b"});
  // As nft 1.0.6 lists a table: the set's elements may wrap over lines.
  std::string listing =
      "table inet corral_way_out {\n\tset session_devices {\n\t\ttype ifname\n"
      "\t\telements = { \"cw0123456789ab\",\n\t\t\t     \"cwba9876543210\" }\n\t}\n\n"
      "\tmap out_bytes {\n\t\ttype ifname : counter\n\t\telements = { \"cw0123456789ab\" : \"cw0123456789ab_out\" }\n\t}\n"
      "\tchain forward {\n\t\tiifname \"eth0\" drop comment \"" + std::string(kUplinkGuardComment) + "\"\n\t}\n}\n";
  CHECK(session_devices_in(listing) == std::vector<std::string>{"cw0123456789ab", "cwba9876543210"});
  CHECK(guarded_uplinks_in(listing) == std::vector<std::string>{"eth0"});
  CHECK(session_devices_in("table inet corral_way_out {\n\tset session_devices {\n\t\ttype ifname\n\t}\n}\n").empty());
}

TEST_CASE("kernel way out: a session's device and counters") {
  CHECK(session_device("0123456789ab") == "cw0123456789ab");
  CHECK(session_device("0123456789ab").size() <= 15);
  auto pool = Ipv4Pool::parse("10.201.0.0/16").value();
  auto subnet = subnet_at(pool, 1);
  CHECK(subnet.network == "10.201.0.4");
  auto added = session_device_added("t", "cwx");
  CHECK(added.find("add element inet t out_bytes { \"cwx\" : \"cwx_out\" }") != std::string::npos);
  CHECK(added.find("add element inet t refused_link_local { \"cwx\" : \"cwx_link_local\" }") != std::string::npos);
  // In the set last, out of it first: a device in the set always has its counters.
  CHECK(added.rfind("session_devices") > added.rfind("add counter"));
  auto removed = session_device_removed("t", "cwx");
  CHECK(removed.find("delete element inet t session_devices { \"cwx\" }") == 0);
  CHECK(removed.find("delete counter inet t cwx_in") != std::string::npos);
  std::string listing =
      "table inet t {\n\tcounter cwx_out {\n\t\tpackets 3 bytes 180\n\t}\n"
      "\tcounter cwx_in {\n\t\tpackets 5 bytes 5120\n\t}\n"
      "\tcounter cwx_private {\n\t\tpackets 2 bytes 120\n\t}\n}\n";
  CHECK(counter_bytes(listing, "cwx_out") == 180u);
  CHECK(counter_bytes(listing, "cwx_in") == 5120u);
  CHECK_FALSE(counter_bytes(listing, "cwy_in").has_value());
  auto counts = device_counts(listing, "cwx");
  CHECK(counts.bytes_in == 5120u);
  uint64_t private_refused = 0, others = 0;
  for (auto [reason, refused] : counts.refused)
    (reason == EgressReason::private_range ? private_refused : others) += refused;
  CHECK(private_refused == 2u);
  CHECK(others == 0u);
  CHECK(inside_loopback_guard().find("oifname \"lo\" meta skuid != 0 ct state new") != std::string::npos);
}
