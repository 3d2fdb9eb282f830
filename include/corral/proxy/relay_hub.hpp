// RelayHub: bytes between a client's connection and a browser's loopback
// port, both ways, for as long as both sides like (a DevTools WebSocket may
// live for hours), on a few threads of its own: a relay holds no thread
// while it waits, and stays on the one thread it started on, so a message
// is carried by the thread it woke (src/proxy/relay.hpp). Half-closes pass through (a client that shuts down its
// sending side is seen as EOF by the browser, and the other way round);
// a reset or error on either side closes both. A relay holds a buffer only
// while bytes pass (idle, it costs its two sockets and little else), and
// may be closed after a time in which neither side sent anything
// (Plan::idle_timeout). Before a byte goes to the
// browser, `check_upstream` runs once the connection is made: corral
// proxies only to a port the session's own browser listens on
// (session_port.hpp).
//
// The one place Asio's sockets are used outside the HTTP server; the
// header holds no Asio type.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "corral/net/session_connector.hpp"
#include "corral/util/error.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

class RelayHub {
 public:
  struct Plan {
    UniqueFd client;                              ///< connected, TCP or unix
    std::string group;                            ///< close_group() ends every relay of a group: a session id
    SessionNetwork upstream_network;              ///< whose 127.0.0.1: the session's
    uint16_t upstream_port = 0;                   ///< on 127.0.0.1
    std::function<Result<void>()> check_upstream; ///< after connecting, before any byte goes up
    std::string to_upstream;                      ///< first bytes up: a request head, and what the client sent past it
    /// Sent to the client, instead of relaying, when the connection or the
    /// check fails: an HTTP answer (JSON 502) built from the message given.
    std::function<std::string(const std::string& why)> failure_answer;
    std::function<void()> on_end;  ///< once, when the relay is over (or never started)
    /// Places the relay holds while it lives (in --max-connections, in the
    /// RelayBudget); let go when it ends.
    std::vector<std::shared_ptr<void>> held;
    /// Closed when neither side sent a byte for this long; 0: never.
    std::chrono::milliseconds idle_timeout{0};
  };

  /// The answer of one HTTP request sent to a browser (fetch()).
  struct Fetched {
    int status = 0;
    std::string content_type;
    std::string body;
  };

  explicit RelayHub(size_t threads = 2);
  ~RelayHub();  ///< closes every relay and joins the threads
  RelayHub(const RelayHub&) = delete;
  RelayHub& operator=(const RelayHub&) = delete;

  /// Connect to 127.0.0.1:upstream_port (within 5 s), check, and relay.
  void start(Plan plan);
  /// Send `answer` to a client whose connection was taken over, then close
  /// it (after a half-close, so the client reads all of it); `held` goes
  /// when the connection does.
  void reply_and_close(UniqueFd client, std::string answer, std::shared_ptr<void> held = nullptr);
  /// End every relay of `group` (both sockets closed) within moments; from any thread.
  void close_group(const std::string& group);
  /// Relays running now.
  size_t active() const;

  /// One request to a browser's loopback port: connect, check, send
  /// `request` (a whole HTTP/1.1 request with Connection: close), read one
  /// answer of at most 8 MiB within 10 s. ECONNREFUSED, EPERM (the check),
  /// ETIMEDOUT, EBADMSG (not HTTP, too large).
  void fetch(const SessionNetwork& network, uint16_t port, std::function<Result<void>()> check_upstream, std::string request,
             std::function<void(Result<Fetched>)> done);
  /// The same exchange for a proxied WebDriver command: no short deadline
  /// (a page load may take minutes; `timeout` is the session's own), an
  /// answer of up to `max_answer` bytes (a screenshot, a page source).
  /// ETIMEDOUT past `timeout`; otherwise as fetch().
  void forward(const SessionNetwork& network, uint16_t port, std::function<Result<void>()> check_upstream, std::string request,
               std::chrono::milliseconds timeout, size_t max_answer, std::function<void(Result<Fetched>)> done);
  /// forward() over a connection kept alive between the exchanges of one
  /// `group` (a session) with one port: `request` must ask for keep-alive;
  /// the check runs once per connection made. A kept connection the other
  /// side has closed meanwhile is replaced once, when not a byte of the
  /// answer came back on it. close_group() closes the group's kept ones.
  void exchange(const std::string& group, const SessionNetwork& network, uint16_t port, std::function<Result<void>()> check_upstream,
                std::string request, std::chrono::milliseconds timeout, size_t max_answer,
                std::function<void(Result<Fetched>)> done);

 /// Defined in src/proxy/relay_hub_impl.hpp, for RelayHub's own translation units.
  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace corral
