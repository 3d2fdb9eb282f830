// The floor under any relay: the least a process in the middle can do to
// carry a CDP message (bench/relay/relay_bench.py's "bare" side). One
// thread, one epoll, a read and a write a message, no checks, no timers, no
// limits: what corral's relay costs above this is corral's own doing; what
// this costs above a direct connection is the price of having a process in
// the middle at all (two more trips through loopback, two more wake-ups).
//
//   bare_relay UPSTREAM_PORT   prints the loopback port it listens on, then
//                              joins each accepted client to a new connection
//                              to 127.0.0.1:UPSTREAM_PORT until killed
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void no_delay(int fd) {
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

static int loopback_socket(int port, int listening) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listening ? bind(fd, (struct sockaddr*)&address, sizeof address) || listen(fd, 16)
                : connect(fd, (struct sockaddr*)&address, sizeof address)) {
    perror(listening ? "bare_relay: listen" : "bare_relay: connect");
    exit(1);
  }
  return fd;
}

// The other end of each fd (a pair's two fds point at each other).
static int peer_of[65536];

static void watch(int epoll, int fd) {
  struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

static void join(int epoll, int listener, int upstream_port) {
  int client = accept(listener, NULL, NULL);
  int upstream = loopback_socket(upstream_port, 0);
  if (client < 0 || client >= 65536 || upstream >= 65536) exit(1);
  no_delay(client);
  no_delay(upstream);
  peer_of[client] = upstream;
  peer_of[upstream] = client;
  watch(epoll, client);
  watch(epoll, upstream);
}

// Blocking writes: a bench client reads what it asked for, so a write that
// waits holds up nothing that matters here.
static int carry(int from) {
  static char chunk[64 * 1024];
  ssize_t n = read(from, chunk, sizeof chunk);
  for (ssize_t sent = 0, w; sent < n; sent += w)
    if ((w = write(peer_of[from], chunk + sent, n - sent)) <= 0) return -1;
  return n > 0 ? 0 : -1;
}

int main(int argc, char** argv) {
  if (argc != 2) return fprintf(stderr, "usage: bare_relay UPSTREAM_PORT\n"), 2;
  int listener = loopback_socket(0, 1);
  struct sockaddr_in bound;
  socklen_t length = sizeof bound;
  getsockname(listener, (struct sockaddr*)&bound, &length);
  printf("%d\n", ntohs(bound.sin_port));
  fflush(stdout);
  int epoll = epoll_create1(0);
  watch(epoll, listener);
  for (;;) {
    struct epoll_event events[16];
    int ready = epoll_wait(epoll, events, 16, -1);
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) join(epoll, listener, atoi(argv[1]));
      else if (carry(fd) < 0) close(fd), close(peer_of[fd]);
    }
  }
}
