// loopback_request: the one builder of what corral sends to a session's port.
#include <doctest/doctest.h>

#include "corral/proxy/relayed_head.hpp"

using namespace corral;

TEST_CASE("a loopback request names the session's port as Host and frames its body") {
  CHECK(loopback_request("GET", "/json/version", 9222, {{"Connection", "close"}}) ==
        "GET /json/version HTTP/1.1\r\nHost: 127.0.0.1:9222\r\nConnection: close\r\n\r\n");
  CHECK(loopback_request("POST", "/s/session", 4444, {{"Accept", "application/json"}}, "{}") ==
        "POST /s/session HTTP/1.1\r\nHost: 127.0.0.1:4444\r\nAccept: application/json\r\nContent-Length: 2\r\n\r\n{}");
  // PUT /json/new and a POST without arguments still say their body is empty.
  CHECK(loopback_request("PUT", "/json/new", 1, {}).find("Content-Length: 0\r\n") != std::string::npos);
  CHECK(loopback_request("GET", "/", 1, {}).find("Content-Length") == std::string::npos);
}

TEST_CASE("a relayed WebSocket's head keeps the client's upgrade but not its Host, Origin or credentials") {
  HttpRequest req;
  req.method = "GET";
  for (auto [name, value] : {std::pair{"Host", "corral.example:8420"}, {"Origin", "https://evil.example"},
                             {"Authorization", "Bearer secret"}, {"Cookie", "a=b"}, {"X-Forwarded-For", "10.0.0.1"},
                             {"Forwarded", "for=10.0.0.1"}, {"Proxy-Authorization", "Basic eA=="},
                             {"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                             {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}})
    req.headers.emplace(name, value);
  auto head = relayed_head(req, "/devtools/browser/abc", 35000);
  CHECK(head.starts_with("GET /devtools/browser/abc HTTP/1.1\r\nHost: 127.0.0.1:35000\r\n"));
  CHECK(head.ends_with("\r\n\r\n"));
  for (const char* kept : {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                           "Sec-WebSocket-Version: 13"})
    CHECK(head.find(kept) != std::string::npos);
  for (const char* dropped : {"corral.example", "Origin", "evil", "Bearer", "Cookie", "Forwarded", "Proxy-Auth"})
    CHECK_MESSAGE(head.find(dropped) == std::string::npos, dropped);
}
