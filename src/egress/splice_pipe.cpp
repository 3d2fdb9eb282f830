#include "corral/egress/splice_pipe.hpp"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

namespace corral {
namespace {

// At most this much asked of one splice from the sender: the pipe's
// default capacity (16 pages), so a read never waits on the pipe itself.
constexpr size_t kSpliceChunk = 64 * 1024;
constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

ssize_t splice_retrying(int from, int to, size_t length) {
  ssize_t n;
  do n = ::splice(from, nullptr, to, nullptr, length, kFlags);
  while (n < 0 && errno == EINTR);
  return n;
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

SplicePipe::~SplicePipe() {
  if (m_read >= 0) ::close(m_read);
  if (m_write >= 0) ::close(m_write);
}

bool SplicePipe::open() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  m_read = fds[0];
  m_write = fds[1];
  return true;
}

SplicePipe::Step SplicePipe::transfer(int from, int to, size_t turn) {
  Step step;
  while (step.delivered < turn) {
    if (m_held == 0) {
      ssize_t in = splice_retrying(from, m_write, kSpliceChunk);
      if (in == 0) return step.next = Next::sender_ended, step;
      if (in < 0) {
        step.error = errno;
        step.next = would_block(step.error) ? Next::wait_readable : Next::failed;
        return step;
      }
      m_held = static_cast<size_t>(in);
    }
    ssize_t out = splice_retrying(m_read, to, m_held);
    if (out < 0) {
      step.error = errno;
      step.next = would_block(step.error) ? Next::wait_writable : Next::failed;
      return step;
    }
    m_held -= static_cast<size_t>(out);
    step.delivered += static_cast<uint64_t>(out);
  }
  return step;
}

}  // namespace corral
