// One HTTP GET (or POST) to a session's loopback port, answered in full
// before it returns: how the launcher asks a starting browser
// (/json/version) or chromedriver (/status) whether it is ready, and how it
// has a warm chromedriver start its browser (POST /session). Through the session
// connector, on a connection of its own, closed after the answer. The
// answer is read by Boost.Beast's parser (src/net/loopback_http.cpp), and
// bounded in time and size: the process answering runs as the session's
// user and may be hostile.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "corral/net/session_connector.hpp"
#include "corral/util/error.hpp"

namespace corral {

struct LoopbackAnswer {
  int status = 0;
  std::string body;
};

struct LoopbackLimits {
  std::chrono::milliseconds connect_timeout{1000};
  /// Sending the request and reading the whole answer.
  std::chrono::milliseconds answer_timeout{2000};
  /// The body; the head is held to Beast's 8 KiB.
  size_t max_body = 1 << 20;
};

/// GET `target` ("/json/version") from 127.0.0.1:`port` in `network`.
/// Errors: connect_to_session's (ECONNREFUSED, ETIMEDOUT); ETIMEDOUT: no
/// whole answer in time; E2BIG: a head or body beyond the limits; EBADMSG:
/// not an HTTP answer, or one cut short.
Result<LoopbackAnswer> loopback_get(const SessionNetwork& network, uint16_t port, const std::string& target,
                                    const LoopbackLimits& limits = {});

/// POST `json_body` to `target` on 127.0.0.1:`port` in `network`; errors as loopback_get's.
Result<LoopbackAnswer> loopback_post(const SessionNetwork& network, uint16_t port, const std::string& target,
                                     const std::string& json_body, const LoopbackLimits& limits = {});

}  // namespace corral
