#include "corral/launch/warm_driver.hpp"

#include <poll.h>

#include <nlohmann/json.hpp>

#include "corral/net/loopback_http.hpp"
#include "corral/util/json_bounded.hpp"

namespace corral {
using namespace std::chrono;

namespace {

// The port of "127.0.0.1:PORT" (chromedriver's debuggerAddress); 0 if none.
uint16_t debugger_port_of(const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.contains("value") || !answer["value"].is_object()) return 0;
  const auto& value = answer["value"];
  if (!value.contains("capabilities") || !value["capabilities"].is_object()) return 0;
  auto options = value["capabilities"].value("goog:chromeOptions", nlohmann::json::object());
  if (!options.is_object() || !options.contains("debuggerAddress") || !options["debuggerAddress"].is_string()) return 0;
  auto address = options["debuggerAddress"].get<std::string>();
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return 0;
  int port = std::atoi(address.c_str() + colon + 1);
  return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
}

}  // namespace

Result<uint16_t> start_warm_driver_browser(const SessionNetwork& network, uint16_t driver_port,
                                           const std::string& url_base, const std::string& new_session_body,
                                           milliseconds timeout) {
  LoopbackLimits limits;
  limits.answer_timeout = timeout;
  limits.max_body = 1 << 20;
  auto answer = loopback_post(network, driver_port, url_base + "/session", new_session_body, limits);
  if (!answer) return Error::make(ECHILD, "chromedriver did not start its browser: " + answer.error().message);
  auto body = parse_json_bounded(answer->body);
  if (!body) return Error::make(ECHILD, "chromedriver's new-session answer was refused: " + body.error().message);
  if (answer->status != 200)
    return Error::make(ECHILD, "chromedriver did not start its browser: HTTP " + std::to_string(answer->status) +
                                   " " + answer->body.substr(0, 300));
  auto port = debugger_port_of(*body);
  if (!port) return Error::make(ECHILD, "chromedriver's new-session answer names no debuggerAddress");
  return port;
}

Result<void> warm_driver_still_listening(const SessionNetwork& network, uint16_t driver_port, uint16_t browser_port,
                                         int pidfd) {
  struct pollfd exited = {pidfd, POLLIN, 0};
  if (::poll(&exited, 1, 0) > 0) return Error::make(ECHILD, "chromedriver exited while warm");
  for (uint16_t port : {driver_port, browser_port}) {
    auto connected = connect_to_session(network, port, milliseconds(500));
    if (!connected)
      return Error::make(ECONNREFUSED, std::string(port == driver_port ? "chromedriver's" : "its browser's") +
                                           " port takes no connection: " + connected.error().message);
  }
  return success();
}

}  // namespace corral
