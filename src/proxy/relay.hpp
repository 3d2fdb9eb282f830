// One relay of RelayHub: a client's connection and a browser's loopback
// port joined both ways (relay_hub.hpp says what a relay promises). Private
// to src/proxy.
//
// A relay lives on one hub thread, the only one that runs its io_context:
// its two sockets and its timers are touched by that thread alone, so it
// needs no strand, and a CDP message costs that thread one wake-up each way
// and no hand-over to another thread (measured in bench/relay/relay_bench.py:
// 8-11 context switches a message with a strand on an io_context shared by
// two threads).
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "corral/proxy/relay_hub.hpp"

namespace corral {

/// The socket the HTTP server handed over, as an Asio socket of whatever
/// family it is (TCP, or a unix socket when the API listens on one), with
/// TCP_NODELAY where it is TCP.
boost::asio::generic::stream_protocol::socket adopt_socket(boost::asio::io_context& io, int fd);

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(boost::asio::io_context& io, RelayHub::Plan plan, std::function<void()> forget);

  /// From any thread: start on the relay's thread, unless closed first.
  void launch();
  /// From any thread.
  void close();

 private:
  // One direction of a relay: the bytes its receiver has not taken yet
  // (none, and no buffer, while it only waits), and whether its sender has
  // ended.
  struct Direction {
    std::unique_ptr<char[]> pending;
    size_t pending_size = 0, pending_sent = 0;
    bool done = false;
  };
  using Generic = boost::asio::generic::stream_protocol;
  using Tcp = boost::asio::ip::tcp;

  void start();
  void connected(boost::system::error_code ec);
  void watch_idle();
  void refuse(const std::string& why);
  template <class From, class To>
  void pump(From& from, To& to, Direction& direction);
  template <class From, class To>
  void carry(From& from, To& to, Direction& direction);
  template <class From, class To>
  void flush(From& from, To& to, Direction& direction);
  template <class To>
  void ended(To& to, Direction& direction);
  void close_both();

  boost::asio::io_context& m_io;
  Generic::socket m_client;
  Tcp::socket m_upstream;
  boost::asio::steady_timer m_timer;  ///< the connect's deadline, then the linger after a half-close
  boost::asio::steady_timer m_idle;   ///< --relay-idle-timeout
  std::chrono::steady_clock::time_point m_last_bytes;
  RelayHub::Plan m_plan;
  std::function<void()> m_forget;
  Direction m_up, m_down;  ///< client to browser; browser to client
  bool m_closed = false;
  std::string m_answer;
};

}  // namespace corral
