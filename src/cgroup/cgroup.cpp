#include "corral/cgroup/cgroup.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "corral/util/file_io.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

std::optional<uint64_t> find_keyed_value(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  std::string name;
  uint64_t value;
  while (lines >> name >> value)
    if (name == key) return value;
  return std::nullopt;
}

namespace {

// cgroup.procs lists one PID a line: at most 7 digits and a newline each
// below the kernel's pid_max of 2^22, so this holds every PID there can be.
constexpr size_t kMaxProcsFile = size_t(32) << 20;

// ENOENT: the directory is gone; ENODEV: it went while we held a file open.
bool vanished(const Error& error) { return error.code == ENOENT || error.code == ENODEV; }

std::optional<uint64_t> read_number(const fs::path& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return std::nullopt;  // "max" or garbage: no number to report
  }
}

std::optional<uint64_t> read_keyed(const fs::path& path, const std::string& key) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  return find_keyed_value(*text, key);
}

std::vector<fs::path> child_cgroups(const fs::path& path) {
  std::vector<fs::path> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path, ec))
    if (entry.is_directory(ec)) children.push_back(entry.path());
  return children;
}

// One line of cgroup.events ("populated", "frozen"), read from an open fd.
Result<bool> read_event(int events_fd, const char* key) {
  char buffer[256];
  ssize_t n = ::pread(events_fd, buffer, sizeof buffer - 1, 0);
  if (n < 0) return Error::from_errno(errno, "read cgroup.events");
  buffer[n] = '\0';
  auto value = find_keyed_value(buffer, key);
  if (!value) return Error::make(EIO, std::string("cgroup.events has no '") + key + "' line");
  return *value != 0;
}

Result<bool> read_populated(int events_fd) { return read_event(events_fd, "populated"); }

// Until `key` in cgroup.events (open at `events_fd`) reads `wanted`: true
// then, false once `timeout` has passed; a read's error as it is.
Result<bool> wait_for_event(int events_fd, const char* key, bool wanted, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  for (;;) {
    // Read after arming: a change between the read and poll() still raises
    // POLLPRI, because the kernel flags the open file, not the poller.
    auto value = read_event(events_fd, key);
    if (!value) return value.error();
    if (*value == wanted) return true;
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return false;
    struct pollfd pfd = {events_fd, POLLPRI, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR)
      return Error::from_errno(errno, "poll cgroup.events");
  }
}

}  // namespace

bool Cgroup::exists() const {
  std::error_code ec;
  return fs::is_directory(m_path, ec);
}

Result<void> Cgroup::kill() const {
  auto written = write_control_file(file("cgroup.kill"), "1");
  if (!written && vanished(written.error())) return success();
  return written;
}

// cgroup.events, or an invalid fd when the cgroup is gone: ENOENT once its
// directory is removed, ENODEV while systemd removes it under us.
Result<UniqueFd> Cgroup::open_events() const {
  UniqueFd fd(::open(file("cgroup.events").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid() && errno != ENOENT && errno != ENODEV)
    return Error::from_errno(errno, "open '" + file("cgroup.events").string() + "'");
  return fd;
}

Result<bool> Cgroup::populated() const {
  CORRAL_TRY_ASSIGN(auto fd, open_events());
  if (!fd.valid()) return false;
  auto populated = read_populated(fd.get());
  if (!populated && vanished(populated.error())) return false;
  return populated;
}

Result<bool> Cgroup::wait_until_empty(milliseconds timeout) const {
  CORRAL_TRY_ASSIGN(auto fd, open_events());
  if (!fd.valid()) return true;
  auto emptied = wait_for_event(fd.get(), "populated", false, timeout);
  if (!emptied && vanished(emptied.error())) return true;  // gone is empty
  return emptied;
}

// The kernel may take a while to freeze (a task in a syscall stops at its
// return), so "frozen 1" is waited for, not assumed from the write.
Result<void> Cgroup::set_frozen(bool frozen, milliseconds timeout) const {
  CORRAL_TRY_ASSIGN(auto fd, open_events());
  if (!fd.valid()) return Error::make(ENOENT, "cgroup '" + m_path.string() + "' is gone");
  CORRAL_TRY(write_control_file(file("cgroup.freeze"), frozen ? "1" : "0"));
  CORRAL_TRY_ASSIGN(bool reached, wait_for_event(fd.get(), "frozen", frozen, timeout));
  if (reached) return success();
  return Error::make(ETIMEDOUT, "cgroup '" + m_path.string() + "' is not " + (frozen ? "frozen" : "thawed") +
                                    " after " + std::to_string(timeout.count()) + " ms");
}

Result<bool> Cgroup::frozen() const {
  CORRAL_TRY_ASSIGN(auto fd, open_events());
  if (!fd.valid()) return Error::make(ENOENT, "cgroup '" + m_path.string() + "' is gone");
  return read_event(fd.get(), "frozen");
}

Result<std::vector<pid_t>> Cgroup::processes() const {
  auto text = read_file(file("cgroup.procs"), kMaxProcsFile);
  if (!text && vanished(text.error())) return std::vector<pid_t>();
  if (!text) return text.error();
  std::vector<pid_t> pids;
  std::istringstream lines(*text);
  for (pid_t pid; lines >> pid;) pids.push_back(pid);
  for (const auto& child : child_cgroups(m_path)) {
    auto more = Cgroup(child).processes();
    if (!more) return more.error();
    pids.insert(pids.end(), more->begin(), more->end());
  }
  return pids;
}

Result<void> Cgroup::add_process(pid_t pid) const {
  return write_control_file(file("cgroup.procs"), std::to_string(pid));
}

Result<void> Cgroup::apply_limits(const Limits& limits) const {
  auto available = enforced();
  if (limits.memory_max && available.memory)
    CORRAL_TRY(write_control_file(file("memory.max"), std::to_string(*limits.memory_max)));
  if (limits.memory_high && available.memory)
    CORRAL_TRY(write_control_file(file("memory.high"), std::to_string(*limits.memory_high)));
  if (limits.cpu_percent && available.cpu) {
    // cpu.max is "<quota> <period>" in µs; a 100 ms period as systemd uses.
    auto quota = *limits.cpu_percent * 1000;
    CORRAL_TRY(write_control_file(file("cpu.max"), std::to_string(quota) + " 100000"));
  }
  if (limits.tasks_max && available.tasks)
    CORRAL_TRY(write_control_file(file("pids.max"), std::to_string(*limits.tasks_max)));
  return success();
}

Controllers Cgroup::enforced() const {
  std::error_code ec;
  return Controllers{fs::exists(file("memory.max"), ec), fs::exists(file("cpu.max"), ec),
                     fs::exists(file("pids.max"), ec)};
}

CgroupStats Cgroup::stats() const {
  CgroupStats stats;
  stats.memory_current = read_number(file("memory.current"));
  stats.memory_peak = read_number(file("memory.peak"));
  stats.oom_kills = read_keyed(file("memory.events"), "oom_kill");
  stats.cpu_usage_usec = read_keyed(file("cpu.stat"), "usage_usec");
  if (auto pids = processes()) stats.processes = pids->size();
  return stats;
}

Result<void> Cgroup::remove() const {
  for (const auto& child : child_cgroups(m_path)) CORRAL_TRY(Cgroup(child).remove());
  // Bounded back-off, as runc does, ~6.5 s in all. It starts at 100 µs: the
  // kernel usually frees the cgroup within a millisecond of "populated 0",
  // and a close waits for this.
  auto delay = microseconds(100);
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(m_path.c_str()) == 0 || errno == ENOENT) return success();
    if (errno != EBUSY || attempt == 16) return Error::from_errno(errno, "rmdir '" + m_path.string() + "'");
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

}  // namespace corral
