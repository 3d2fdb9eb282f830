// Error and Result<T>: how every fallible call in corral reports failure.
//
// Debian 12's g++ has no std::expected (C++23) and Debian ships no tl-expected,
// so this is a small expected-like type of our own. Errors carry a positive
// errno (which the HTTP layer maps to a status code) and a message that says
// what was being done, in the style "write '/sys/fs/cgroup/x/cgroup.kill': ...".
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace corral {

struct Error {
  int code = EIO;           ///< positive errno; picks the HTTP status
  std::string message;      ///< human-readable, says what failed and why
  std::string bus_name;     ///< D-Bus error name, or empty

  /// Error from a failed syscall: "<context>: <strerror(e)>".
  static Error from_errno(int e, const std::string& context);
  /// Error with an errno class and a message of our own.
  static Error make(int e, std::string message);
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : m_value(std::move(value)) {}
  Result(Error error) : m_value(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(m_value); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(m_value); }
  T&& value() && { return std::get<T>(std::move(m_value)); }
  const T& value() const& { return std::get<T>(m_value); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<Error>(m_value); }

 private:
  std::variant<T, Error> m_value;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)) {}

  bool ok() const { return !m_error.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *m_error; }

 private:
  std::optional<Error> m_error;
};

inline Result<void> success() { return {}; }

}  // namespace corral

/// Return the error of a failed Result from the enclosing function.
///   CORRAL_TRY(cgroup.kill());
#define CORRAL_TRY(expr)                         \
  do {                                           \
    auto corral_try_result_ = (expr);            \
    if (!corral_try_result_.ok())                \
      return corral_try_result_.error();         \
  } while (0)

/// Assign the value of a Result, or return its error from the enclosing
/// function. `lhs` may declare: CORRAL_TRY_ASSIGN(auto dirs, SessionDirs::create(...));
#define CORRAL_TRY_ASSIGN(lhs, expr) CORRAL_TRY_ASSIGN_IMPL(lhs, expr, CORRAL_CONCAT(corral_try_assign_, __LINE__))
#define CORRAL_TRY_ASSIGN_IMPL(lhs, expr, result) \
  auto result = (expr);                           \
  if (!result.ok()) return result.error();        \
  lhs = std::move(*result)
#define CORRAL_CONCAT(a, b) CORRAL_CONCAT_IMPL(a, b)
#define CORRAL_CONCAT_IMPL(a, b) a##b
