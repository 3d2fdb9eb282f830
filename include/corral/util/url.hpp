// The parts of a URL a browser or chromedriver names itself with
// ("http://127.0.0.1:PORT/path"), as plain strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corral {

/// The path of a URL ("ws://127.0.0.1:9222/devtools/browser/x" gives
/// "/devtools/browser/x"); "/" when it has none.
std::string url_path(std::string_view url);
/// The port of "http://127.0.0.1:PORT"; 0 if there is none.
uint16_t url_port(std::string_view url);

}  // namespace corral
