#include <doctest/doctest.h>

#include "corral/server/websocket_upgrade.hpp"

using namespace corral;

namespace {

HttpRequest upgrade(std::initializer_list<std::pair<const char*, const char*>> headers, const char* method = "GET",
                    unsigned version = 11) {
  HttpRequest request;
  request.method = method;
  request.version = version;
  for (const auto& [name, value] : headers) request.headers.emplace(name, value);
  return request;
}

}  // namespace

TEST_CASE("is_websocket_upgrade: Connection names upgrade and Upgrade names websocket, as tokens") {
  CHECK(is_websocket_upgrade(upgrade({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}})));
  CHECK(is_websocket_upgrade(upgrade({{"connection", "keep-alive, Upgrade"}, {"upgrade", "WebSocket"}})));
  CHECK(is_websocket_upgrade(upgrade({{"Connection", "UPGRADE"}, {"Upgrade", "h2c, websocket"}})));
  // Two Connection fields are one list (RFC 9110, 5.3).
  CHECK(is_websocket_upgrade(
      upgrade({{"Connection", "keep-alive"}, {"Connection", "upgrade"}, {"Upgrade", "websocket"}})));
}

TEST_CASE("is_websocket_upgrade: anything else is a plain request") {
  CHECK_FALSE(is_websocket_upgrade(upgrade({})));
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Upgrade", "websocket"}})));      // no Connection: upgrade
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Connection", "Upgrade"}})));     // no Upgrade
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Connection", "keep-alive"}, {"Upgrade", "websocket"}})));
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}})));
  // A token, not a substring.
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Connection", "Upgrade"}, {"Upgrade", "websocketx"}})));
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Connection", "upgraded"}, {"Upgrade", "websocket"}})));
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}}, "POST")));
  CHECK_FALSE(is_websocket_upgrade(upgrade({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}}, "GET", 10)));
}
