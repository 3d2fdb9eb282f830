// SplicePipe with real sockets (Unix stream pairs: splice treats them as
// it treats TCP): what it moves, where it stops, and that a sender's end
// is passed on only after the bytes before it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "corral/egress/splice_pipe.hpp"

using namespace corral;

namespace {

// Two connected non-blocking sockets: what is written to `near` is read from `far`.
struct SocketPair {
  int near = -1, far = -1;
  SocketPair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    near = fds[0];
    far = fds[1];
  }
  ~SocketPair() {
    if (near >= 0) ::close(near);
    if (far >= 0) ::close(far);
  }
};

std::string read_available(int fd) {
  std::string out;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<size_t>(n));
  return out;
}

}  // namespace

TEST_CASE("SplicePipe moves what the sender has, then waits for more") {
  SocketPair sender, receiver;
  SplicePipe pipe;
  REQUIRE(pipe.open());
  REQUIRE(::write(sender.near, "hello", 5) == 5);
  auto step = pipe.transfer(sender.far, receiver.near, 1 << 20);
  CHECK(step.delivered == 5);
  CHECK(step.next == SplicePipe::Next::wait_readable);
  CHECK(read_available(receiver.far) == "hello");
}

TEST_CASE("SplicePipe holds bytes the receiver cannot take and delivers them later") {
  SocketPair sender, receiver;
  SplicePipe pipe;
  REQUIRE(pipe.open());
  std::string sent;
  uint64_t delivered = 0;
  SplicePipe::Step step;
  // Fill until the receiver's socket buffer is full; nobody reads it yet.
  for (int round = 0; round < 10000; ++round) {
    std::string chunk(4096, static_cast<char>('a' + round % 26));
    if (::write(sender.near, chunk.data(), chunk.size()) > 0) sent += chunk;
    step = pipe.transfer(sender.far, receiver.near, 1 << 20);
    delivered += step.delivered;
    if (step.next == SplicePipe::Next::wait_writable) break;
  }
  REQUIRE(step.next == SplicePipe::Next::wait_writable);
  CHECK(pipe.held() > 0);
  ::shutdown(sender.near, SHUT_WR);  // the sender's end comes after the held bytes
  std::string received;
  for (int round = 0; round < 100000 && step.next != SplicePipe::Next::sender_ended; ++round) {
    received += read_available(receiver.far);
    step = pipe.transfer(sender.far, receiver.near, 1 << 20);
    delivered += step.delivered;
    REQUIRE(step.next != SplicePipe::Next::failed);
  }
  received += read_available(receiver.far);
  CHECK(step.next == SplicePipe::Next::sender_ended);
  CHECK(pipe.held() == 0);
  CHECK(delivered == sent.size());
  CHECK(received == sent);
}

TEST_CASE("SplicePipe gives a busy sender one turn at a time") {
  SocketPair sender, receiver;
  SplicePipe pipe;
  REQUIRE(pipe.open());
  std::string chunk(100000, 'x');
  REQUIRE(::write(sender.near, chunk.data(), chunk.size()) > 8192);
  auto step = pipe.transfer(sender.far, receiver.near, 4096);
  CHECK(step.next == SplicePipe::Next::more);
  CHECK(step.delivered >= 4096);
}

TEST_CASE("SplicePipe reports a receiver that went away as a failure, not an end") {
  SocketPair sender, receiver;
  SplicePipe pipe;
  REQUIRE(pipe.open());
  ::close(receiver.far);
  receiver.far = -1;
  REQUIRE(::write(sender.near, "late", 4) == 4);
  auto step = pipe.transfer(sender.far, receiver.near, 1 << 20);
  CHECK(step.next == SplicePipe::Next::failed);
  CHECK(step.error == EPIPE);
}
