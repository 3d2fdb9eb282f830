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
  auto table = way_out_table({pool, {"eth0", "wan1"}, {"wan1"}, {"192.168.7.0/24"}});
  CHECK(table.find("table inet corral_way_out {") == 0);
  CHECK(table.find("iifname \"cw*\" fib daddr type local reject") != std::string::npos);
  for (const char* range : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
                            "127.0.0.0/8", "224.0.0.0/4"})
    CHECK_MESSAGE(table.find(range) != std::string::npos, range);
  CHECK(table.find("meta nfproto ipv6 reject") != std::string::npos);
  // The operator's allowed range is accepted before the refusals.
  CHECK(table.find("192.168.7.0/24") < table.find("10.0.0.0/8"));
  CHECK(table.find("ip saddr 10.201.0.0/16 oifname { \"eth0\", \"wan1\" } masquerade") != std::string::npos);
  CHECK(table.find("iifname { \"wan1\" } drop") != std::string::npos);
  CHECK(table.find("iifname { \"eth0\" } drop") == std::string::npos);
  auto unguarded = way_out_table({pool, {"eth0"}, {}, {}});
  CHECK(unguarded.find(" drop") == std::string::npos);
}

TEST_CASE("kernel way out: a session's device, batches and counters") {
  CHECK(session_device("0123456789ab") == "cw0123456789ab");
  CHECK(session_device("0123456789ab").size() <= 15);
  SessionSubnet subnet{"10.201.0.5", "10.201.0.6"};
  CHECK(host_end_batch("cwx", 42, subnet) ==
        "link add cwx type veth peer name eth0 netns 42\naddr add 10.201.0.5/30 dev cwx\nlink set cwx up\n");
  CHECK(inside_end_batch(subnet) ==
        "addr add 10.201.0.6/30 dev eth0\nlink set eth0 up\nroute add default via 10.201.0.5\n");
  CHECK(session_counters_added("cwx").find("add element inet corral_way_out out_bytes { \"cwx\" : \"cwx_out\" }") !=
        std::string::npos);
  CHECK(session_counters_removed("cwx").find("delete counter inet corral_way_out cwx_in") != std::string::npos);
  std::string listing =
      "table inet corral_way_out {\n\tcounter cwx_out {\n\t\tpackets 3 bytes 180\n\t}\n"
      "\tcounter cwx_in {\n\t\tpackets 5 bytes 5120\n\t}\n}\n";
  CHECK(counter_bytes(listing, "cwx_out") == 180u);
  CHECK(counter_bytes(listing, "cwx_in") == 5120u);
  CHECK_FALSE(counter_bytes(listing, "cwy_in").has_value());
  CHECK(inside_loopback_guard().find("oifname \"lo\" meta skuid != 0 ct state new") != std::string::npos);
}
