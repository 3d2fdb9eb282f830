// RelayHub's insides, shared by its translation units: relay_hub.cpp
// (the hub, one-shot exchanges), relay.cpp (one relay) and
// relay_exchange.cpp (exchanges over connections kept alive). Private to
// src/proxy.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "corral/proxy/relay_hub.hpp"

namespace corral {

class Relay;

/// A connection to a browser's or chromedriver's loopback port, checked
/// once when made, kept between exchanges while the other side keeps it.
struct KeptConnection {
  explicit KeptConnection(boost::asio::io_context& io) : stream(io) {}
  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;
};
using KeptPtr = std::shared_ptr<KeptConnection>;

/// Open `socket` on a socket from the session connector
/// (net/session_connector.hpp), so that it can reach the session's
/// loopback in `network`: every connection the hub makes is made so. Where
/// to connect it for `port`.
Result<boost::asio::ip::tcp::endpoint> open_to_session(boost::asio::ip::tcp::socket& socket,
                                                       const SessionNetwork& network, uint16_t port);

/// What a failed one-request exchange (fetch, forward, exchange) reports:
/// ETIMEDOUT past `timeout`, ECONNREFUSED, else EBADMSG.
Error exchange_error(boost::system::error_code ec, std::chrono::milliseconds timeout);

struct RelayHub::Impl {
  /// One hub thread and the io_context only it runs: whatever is started
  /// on it (a relay, an exchange) stays on that thread, so it needs no
  /// strand and no hand-over between threads.
  struct Loop {
    boost::asio::io_context io{1};  // one thread: Asio may skip waking others
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Loop>> loops;
  std::atomic<size_t> next_loop{0};
  mutable std::mutex mutex;
  uint64_t next_id = 0;
  std::map<uint64_t, std::pair<std::string, std::weak_ptr<Relay>>> relays;  ///< by id: group, relay
  /// Idle kept connections by "<group>:<port>"; guarded by `mutex`.
  std::map<std::string, std::vector<KeptPtr>> kept;

  /// The io_context for the next relay or exchange: the hub threads take turns.
  boost::asio::io_context& next_io();
  /// An idle kept connection for the key, or null.
  KeptPtr take_kept(const std::string& key);
  /// Keep a connection whose exchange ended cleanly (a few per key).
  void keep(const std::string& key, KeptPtr connection);
  /// Close and forget the kept connections of a group.
  void drop_kept(const std::string& group);
};

}  // namespace corral
