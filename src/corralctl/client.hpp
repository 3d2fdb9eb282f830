// corralctl's way to corrald: an HTTP client on a TCP address or a unix
// socket, with the bearer token when one was given.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace corralctl {

struct Target {
  std::string url = "http://127.0.0.1:8420";  ///< or unix:/PATH
  std::string token;                          ///< empty: send none
  bool json_output = false;
};

/// What one request brought back. `reached` false: no answer at all
/// (`problem` says why); otherwise the status and the parsed body.
struct Reply {
  bool reached = false;
  int status = 0;
  nlohmann::json body;
  std::string problem;  ///< transport error, or the daemon's error message
};

std::unique_ptr<httplib::Client> connect(const Target& target);

/// One request; never exits. `timeout_seconds` bounds connecting and reading.
Reply fetch(const Target& target, const std::string& method, const std::string& path, const std::string& body = "",
            int timeout_seconds = 120);

/// One request; prints the daemon's error and exits non-zero on failure
/// (2: unreachable, 1: an error status).
nlohmann::json call(const Target& target, const std::string& method, const std::string& path,
                    const std::string& body = "");

}  // namespace corralctl
