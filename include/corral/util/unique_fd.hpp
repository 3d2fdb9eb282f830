// UniqueFd: a move-only owner of a file descriptor, closed on destruction.
#pragma once

namespace corral {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  /// Give up ownership without closing.
  int release();
  /// Close the current descriptor (if any) and own `fd` instead.
  void reset(int fd = -1);

 private:
  int m_fd = -1;
};

}  // namespace corral
