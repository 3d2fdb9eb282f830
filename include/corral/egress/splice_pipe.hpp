// One direction of a relayed TCP connection moved inside the kernel:
// splice(2) from the sending socket into a pipe, and from the pipe into the
// receiving socket. The bytes never enter corrald's memory, which halves
// the copies a buffered relay makes (measured in docs/benchmarks.md).
// No Asio here: the caller waits for readiness and calls transfer() again.
// splice(2) has no MSG_NOSIGNAL: the process must ignore SIGPIPE (corrald
// does, in block_daemon_signals), or a receiver that left kills it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace corral {

class SplicePipe {
 public:
  SplicePipe() = default;
  SplicePipe(const SplicePipe&) = delete;
  SplicePipe& operator=(const SplicePipe&) = delete;
  ~SplicePipe();

  /// Makes the pipe (non-blocking, close-on-exec). False with errno set
  /// when the process is out of fds.
  bool open();

  /// What transfer() stopped at.
  enum class Next {
    more,            ///< it moved its share for this turn; call again soon
    wait_readable,   ///< the sender has nothing now
    wait_writable,   ///< the receiver takes nothing now (bytes wait in the pipe)
    sender_ended,    ///< the sender closed its side and the pipe is empty
    failed,          ///< either socket failed; `error` says how
  };
  struct Step {
    uint64_t delivered = 0;  ///< bytes handed to the receiver in this call
    Next next = Next::more;
    int error = 0;
  };

  /// Moves what is available from `from` to `to`, both non-blocking
  /// sockets, until one would block, the sender ends, or `turn` bytes went
  /// through (so one busy connection does not starve the relay's others).
  Step transfer(int from, int to, size_t turn);

  /// Bytes read from the sender and not yet taken by the receiver.
  size_t held() const { return m_held; }

 private:
  int m_read = -1, m_write = -1;
  size_t m_held = 0;
};

}  // namespace corral
