#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopback_listener.hpp"
#include "corral/net/session_connector.hpp"
#include "corral/net/socket_owner.hpp"
#include "corral/util/unique_fd.hpp"

using namespace corral;

namespace {

// A TCP connection over 127.0.0.1 inside this process: the accepted end,
// whose peer is the connecting end, ours.
struct LoopbackConnection {
  uint16_t port = 0;
  UniqueFd listener = testing::listen_on_loopback(port, 1), client, accepted;
  LoopbackConnection() {
    auto address = session_loopback(port);
    client.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    accepted.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(accepted.valid());
  }
};

}  // namespace

TEST_CASE("the owner of a loopback TCP peer, by sock_diag and by /proc/net/tcp alike") {
  LoopbackConnection connection;
  auto by_diag = peer_uid(connection.accepted.get());
  auto by_proc = peer_uid_from_proc_net(connection.accepted.get());
  REQUIRE(by_diag.has_value());
  REQUIRE(by_proc.has_value());
  CHECK(*by_diag == ::geteuid());
  CHECK(*by_proc == ::geteuid());
}

TEST_CASE("the owner of a unix socket peer comes from SO_PEERCRED") {
  int ends[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
  UniqueFd a(ends[0]), b(ends[1]);
  CHECK(peer_uid(a.get()) == ::geteuid());
  CHECK_FALSE(peer_uid(-1).has_value());
}

TEST_CASE("the listeners on a port, by sock_diag and by /proc/net/tcp alike, and none once it closes") {
  LoopbackConnection connection;
  uint16_t port = connection.port;
  auto from_kernel = listeners_on(port);
  auto from_proc = listeners_from_proc_net(port);
  REQUIRE(from_kernel);
  REQUIRE(from_proc);
  REQUIRE(from_kernel->size() == 1);  // the listener only: not the connection's two ends on the same port
  REQUIRE(from_proc->size() == 1);
  struct stat socket_file {};
  REQUIRE(::fstat(connection.listener.get(), &socket_file) == 0);
  CHECK(from_kernel->front().inode == socket_file.st_ino);
  CHECK(from_proc->front().inode == socket_file.st_ino);
  CHECK(from_kernel->front().uid == ::geteuid());
  CHECK(from_proc->front().uid == ::geteuid());
  connection.listener.reset();
  CHECK(listeners_on(port)->empty());
  CHECK(listeners_from_proc_net(port)->empty());
}
