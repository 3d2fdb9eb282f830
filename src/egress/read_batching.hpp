// ReadBatching: fewer wake-ups for a stream that arrives in small writes.
//
// A sender that writes 2 KB at a time (tinyproxy does, measured in
// bench/network/proxy_bench.py) woke the relay about 800 times a megabyte,
// and each wake cost a splice round and two context switches: 9.7 ms of
// corrald's CPU per MB against 0.6 for a sender that writes large. While a
// direction streams (64 KiB or more within 2 ms), the socket's SO_RCVLOWAT
// is raised to 64 KiB, so the kernel wakes the relay only once that much
// waits; a timer lowers it again 1 ms later, which wakes the relay for the
// tail (tcp_set_rcvlowat signals a reader whose data now suffices). Slower
// traffic (a request and its answer, a TLS handshake) never raises it, so
// it waits for no timer. splice(2) ignores the low-water mark: a wake
// moves whatever is there.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "egress_relay_impl.hpp"

namespace corral {

class ReadBatching {
 public:
  explicit ReadBatching(EgressStrand strand) : m_tail(strand) {}

  /// Before waiting for `socket` to be readable, after a turn that moved
  /// `delivered` bytes from it. `owner` is kept alive while the tail timer
  /// waits (it owns `socket`).
  void before_wait(boost::asio::ip::tcp::socket& socket, uint64_t delivered, std::shared_ptr<void> owner);
  /// The connection is closing: no timer may touch its socket any more.
  void stop() { m_tail.cancel(); }

  /// Bytes that must wait before a streaming socket wakes the relay.
  static constexpr int kBatch = 64 * 1024;

 private:
  void set_low_water(boost::asio::ip::tcp::socket& socket, int bytes);

  boost::asio::steady_timer m_tail;
  std::chrono::steady_clock::time_point m_window_start;
  uint64_t m_window_bytes = 0;
  bool m_raised = false;
};

}  // namespace corral
