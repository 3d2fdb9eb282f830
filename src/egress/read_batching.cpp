#include "read_batching.hpp"

#include <sys/socket.h>

namespace corral {

using namespace std::chrono;
using boost::asio::ip::tcp;

namespace {
// Bytes moved within this window that make a direction a stream.
constexpr auto kWindow = milliseconds(2);
// How long a raised low-water mark may hold back a tail that stays short
// of kBatch: at most this much latency added once per burst.
constexpr auto kTail = milliseconds(1);
}  // namespace

void ReadBatching::before_wait(tcp::socket& socket, uint64_t delivered, std::shared_ptr<void> owner) {
  auto now = steady_clock::now();
  if (now - m_window_start > kWindow) {
    m_window_start = now;
    m_window_bytes = 0;
  }
  m_window_bytes += delivered;
  if (m_window_bytes < static_cast<uint64_t>(kBatch)) {
    if (m_raised) set_low_water(socket, 1);
    return;
  }
  if (!m_raised) set_low_water(socket, kBatch);
  m_tail.expires_after(kTail);
  m_tail.async_wait([this, &socket, owner = std::move(owner)](boost::system::error_code ec) {
    if (!ec && m_raised) set_low_water(socket, 1);  // wakes the waiting relay if any byte is there
  });
}

void ReadBatching::set_low_water(tcp::socket& socket, int bytes) {
  // A failure (a socket closed under us) leaves the mark as it was: the
  // relay then waits for kBatch or the sender's end, and the idle timeout
  // still bounds it.
  m_raised = ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0
                 ? bytes > 1
                 : m_raised;
}

}  // namespace corral
