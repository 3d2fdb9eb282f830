// The kernel way out's links, routes and rules, made in process against
// the real kernel: a pair into a network namespace of the test's own, its
// ends configured, a connection across it, the /30 refused to a second
// pair, and an nftables table in that namespace alone (the nft thread goes
// home after it: the next table is the host's).
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "corral/launch/nftables.hpp"
#include "corral/launch/rtnetlink.hpp"
#include "corral/net/in_network_namespace.hpp"
#include "corral/util/unique_fd.hpp"

using namespace corral;

namespace {

// A network namespace held by its fd alone: made by a thread that ends.
UniqueFd new_network_namespace() {
  UniqueFd held;
  std::thread maker([&] {
    if (::unshare(CLONE_NEWNET) == 0) held = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  });
  maker.join();
  return held;
}

bool has_address(const std::string& address, const std::string& device) {
  auto all = ipv4_addresses();
  return std::find(all.begin(), all.end(), std::pair(address, device)) != all.end();
}

sockaddr_in at(const std::string& address, uint16_t port) {
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &where.sin_addr);
  return where;
}

// A listener on the host end's address, in this thread's (the host's) namespace.
UniqueFd listen_on(const std::string& address, uint16_t& port) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto where = at(address, 0);
  socklen_t length = sizeof where;
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&where), sizeof where) == 0);
  REQUIRE(::listen(listener.get(), 1) == 0);
  REQUIRE(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&where), &length) == 0);
  port = ntohs(where.sin_port);
  return listener;
}

}  // namespace

TEST_CASE("rtnetlink: a session's veth pair, its ends, and a connection across it") {
  if (::geteuid() != 0) {
    MESSAGE("not root: no veth pair or network namespace can be made here; not tested");
    return;
  }
  auto network = new_network_namespace();
  REQUIRE(network.valid());
  auto device = "cwt" + std::to_string(::getpid());
  auto pool = Ipv4Pool::parse("10.250.0.0/24").value();
  auto subnet = subnet_at(pool, 1);  // 10.250.0.4/30: host .5, inside .6

  auto made = make_veth_pair(device, network.get(), subnet);
  REQUIRE_MESSAGE(made.ok(), (made ? "" : made.error().message));
  CHECK(has_address(subnet.host, device));
  CHECK_FALSE(has_address(subnet.inside, "eth0"));  // the peer is in the namespace, not here

  auto configured = in_network_namespace(network.get(), [&]() -> Result<void> {
    CORRAL_TRY(configure_inside_end(subnet));
    CHECK(has_address(subnet.inside, "eth0"));
    CHECK(default_route_devices() == std::vector<std::string>{"eth0"});
    return success();
  });
  CHECK_MESSAGE(configured.ok(), (configured ? "" : configured.error().message));

  SUBCASE("a connection from inside reaches the host end") {
    uint16_t port = 0;
    auto listener = listen_on(subnet.host, port);
    auto connected = in_network_namespace(network.get(), [&]() -> Result<void> {
      UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      auto where = at(subnet.host, port);
      if (::connect(client.get(), reinterpret_cast<sockaddr*>(&where), sizeof where) < 0)
        return Error::from_errno(errno, "connect from inside");
      return success();
    });
    CHECK_MESSAGE(connected.ok(), (connected ? "" : connected.error().message));
    pollfd waiting{listener.get(), POLLIN, 0};
    CHECK(::poll(&waiting, 1, 2000) == 1);
  }
  SUBCASE("a second pair with the same /30 is refused: its route is taken") {
    auto other = device + "b";
    auto second = make_veth_pair(other, network.get(), subnet);
    REQUIRE_FALSE(second);
    CHECK(second.error().code == EEXIST);
    CHECK(delete_link(other).ok());
  }
  SUBCASE("nft rules made inside are the namespace's alone") {
    CHECK(run_nft(inside_loopback_guard(), network.get()).ok());
    auto listed = run_nft("list tables", network.get());
    REQUIRE(listed);
    CHECK(listed->find("corral_session_loopback") != std::string::npos);
    auto here = run_nft("list tables");
    REQUIRE(here);
    CHECK(here->find("corral_session_loopback") == std::string::npos);
    auto refused = run_nft("add rule inet no_such_table no_such_chain accept");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("No such file or directory") != std::string::npos);
  }

  CHECK(delete_link(device).ok());
  CHECK_FALSE(has_address(subnet.host, device));
  CHECK(delete_link(device).ok());  // gone already: no error
}
