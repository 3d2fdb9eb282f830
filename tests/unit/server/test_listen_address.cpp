#include <doctest/doctest.h>

#include "corral/server/listen_address.hpp"

using namespace corral;

TEST_CASE("parse_listen_address") {
  auto tcp = parse_listen_address("127.0.0.1:8420");
  REQUIRE(tcp.ok());
  CHECK(tcp->host == "127.0.0.1");
  CHECK(tcp->port == 8420);
  CHECK_FALSE(tcp->is_unix());
  CHECK(tcp->describe() == "127.0.0.1:8420");

  auto v6 = parse_listen_address("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);
  CHECK(v6->describe() == "[::1]:0");

  auto unix_socket = parse_listen_address("unix:/run/corral/api.sock");
  REQUIRE(unix_socket.ok());
  CHECK(unix_socket->is_unix());
  CHECK(unix_socket->unix_path == "/run/corral/api.sock");
  CHECK(unix_socket->describe() == "unix:/run/corral/api.sock");

  for (const char* bad : {"", "8420", ":8420", "host:", "host:port", "host:65536", "host:-1", "host:84 20",
                          "unix:", "unix:relative/api.sock"})
    CHECK_MESSAGE(!parse_listen_address(bad).ok(), bad);
  CHECK_FALSE(parse_listen_address("unix:/" + std::string(kMaxUnixSocketPath, 'a')).ok());
  CHECK(parse_listen_address("unix:/" + std::string(kMaxUnixSocketPath - 1, 'a')).ok());
}

TEST_CASE("is_local_only") {
  for (const char* local : {"127.0.0.1:8420", "127.1.2.3:1", "[::1]:8420", "localhost:8420", "LocalHost:1",
                            "[::ffff:127.0.0.1]:8420", "unix:/run/corral/api.sock"})
    CHECK_MESSAGE(is_local_only(*parse_listen_address(local)), local);
  for (const char* reachable : {"0.0.0.0:8420", "[::]:8420", "10.0.0.5:8420", "128.0.0.1:8420", "example.com:80",
                                "localhost.example.com:80", "[::ffff:10.0.0.1]:8420", "[::2]:8420"})
    CHECK_MESSAGE(!is_local_only(*parse_listen_address(reachable)), reachable);
}
