#pragma once
// Warren's one error model for OS-facing code: functions that can fail return
// Result<T> (or Status for Result<void>). No exceptions cross a module boundary
// and nothing logs-and-continues silently; the caller decides what a failure means.

#include <cerrno>
#include <cstring>
#include <optional>
#include <source_location>
#include <string>
#include <utility>
#include <variant>

namespace warren {

struct Error {
  // errno when the failure came from the OS, 0 otherwise.
  int code = 0;
  // A sentence a user can act on ("open /sys/fs/bpf/warren: No such file ...").
  std::string message;

  std::string toString() const { return message; }
};

// Builds an Error from errno (read immediately, before anything can clobber it).
inline Error errnoError(std::string what, int err = errno) { return Error{err, what + ": " + std::strerror(err)}; }

inline Error makeError(std::string what, int code = 0) { return Error{code, std::move(what)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status okStatus() { return Status(); }

// Adds context in front of an error: "loading BPF: open ...: ENOENT".
inline Error withContext(const Error& e, const std::string& context) {
  return Error{e.code, context + ": " + e.message};
}

}  // namespace warren
