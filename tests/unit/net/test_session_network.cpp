// SessionNetwork and the connector's way into a session's own network
// namespace, against a forked child that made one and listens in it.
#include <doctest/doctest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "corral/net/session_connector.hpp"

using namespace corral;
using namespace std::chrono;

namespace {

ino_t namespace_inode(const char* path) {
  struct stat st{};
  REQUIRE(::stat(path, &st) == 0);
  return st.st_ino;
}

// In a new network namespace with `lo` up: listen on 127.0.0.1, tell the
// parent the port, answer one connection with "in", wait to be killed.
[[noreturn]] void listen_in_own_network(int report, int namespaces = CLONE_NEWNET) {
  if (::unshare(namespaces) < 0) _exit(1);
  int control = ::socket(AF_INET, SOCK_DGRAM, 0);
  ifreq request{};
  std::memcpy(request.ifr_name, "lo", 3);
  if (::ioctl(control, SIOCGIFFLAGS, &request) < 0) _exit(2);
  request.ifr_flags |= IFF_UP;
  if (::ioctl(control, SIOCSIFFLAGS, &request) < 0) _exit(3);
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  auto address = session_loopback(0);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 || ::listen(listener, 4) < 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) < 0)
    _exit(4);
  uint16_t port = ntohs(address.sin_port);
  if (::write(report, &port, sizeof port) != sizeof port) _exit(5);
  int client = ::accept(listener, nullptr, nullptr);
  (void)!::write(client, "in", 2);
  ::pause();
  _exit(0);
}

}  // namespace

TEST_CASE("a process in corrald's own network namespace has a shared network") {
  auto network = SessionNetwork::of_process(::getpid());
  REQUIRE(network);
  CHECK_FALSE(network->own());
  CHECK(network->fd() == -1);
  CHECK_FALSE(SessionNetwork::of_process(999999999));
}

TEST_CASE("the connector reaches a listener in a session's own network namespace, and returns") {
  if (::geteuid() != 0) {
    MESSAGE("not root: a network namespace of a child's own cannot be made here; not tested");
    return;
  }
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) listen_in_own_network(report[1]);
  ::close(report[1]);
  uint16_t port = 0;
  REQUIRE(::read(report[0], &port, sizeof port) == sizeof port);
  ::close(report[0]);

  auto network = SessionNetwork::of_process(child);
  REQUIRE(network);
  CHECK(network->own());
  auto home = namespace_inode("/proc/thread-self/ns/net");
  auto connected = connect_to_session(*network, port, seconds(2));
  REQUIRE(connected);
  char answer[2] = {};
  pollfd readable{connected->get(), POLLIN, 0};
  REQUIRE(::poll(&readable, 1, 2000) == 1);
  CHECK(::recv(connected->get(), answer, sizeof answer, MSG_WAITALL) == 2);
  CHECK(std::string(answer, 2) == "in");
  // The calling thread is back in corrald's namespace; the listener is not there.
  CHECK(namespace_inode("/proc/thread-self/ns/net") == home);
  auto outside = connect_to_session(SessionNetwork{}, port, seconds(1));
  CHECK_FALSE(outside);

  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST_CASE("a network namespace in a user namespace of its own is reached through the helper, threads or not") {
  if (::geteuid() != 0) {
    MESSAGE("not root: shares the root-only guard of the test above; not tested");
    return;
  }
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  // Both at once: the network namespace then belongs to the new user namespace.
  if (child == 0) listen_in_own_network(report[1], CLONE_NEWUSER | CLONE_NEWNET);
  ::close(report[1]);
  uint16_t port = 0;
  REQUIRE(::read(report[0], &port, sizeof port) == sizeof port);
  ::close(report[0]);

  auto network = SessionNetwork::of_process(child);
  REQUIRE(network);
  CHECK(network->own());
  CHECK(network->user_fd() >= 0);
  auto home = namespace_inode("/proc/thread-self/ns/user");
  // corrald is multithreaded: the helper must not need it not to be.
  std::thread busy([] { std::this_thread::sleep_for(milliseconds(300)); });
  auto connected = connect_to_session(*network, port, seconds(2));
  busy.join();
  REQUIRE(connected);
  char answer[2] = {};
  pollfd readable{connected->get(), POLLIN, 0};
  REQUIRE(::poll(&readable, 1, 2000) == 1);
  CHECK(::recv(connected->get(), answer, sizeof answer, MSG_WAITALL) == 2);
  CHECK(std::string(answer, 2) == "in");
  CHECK(namespace_inode("/proc/thread-self/ns/user") == home);
  CHECK_FALSE(connect_to_session(SessionNetwork{}, port, seconds(1)));
  // A listener of corrald's in that namespace: what the way out is made with.
  auto listener = listen_in_session(*network, static_cast<uint16_t>(port + 1));
  CHECK(listener);

  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}
