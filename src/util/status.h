// Status and Result: the small error type used everywhere below the CLI and NBD edges.
// A successful Status holds no allocation. Errors carry a kind and one line of text that
// names what is wrong (which member, which field, what was expected).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace umd {

enum class Err : uint8_t {
  ok = 0,
  io,           // a member read/write/flush failed
  corrupt,      // on-disk data does not decode (bad magic, checksum, field out of range)
  invalid,      // the caller asked for something that does not make sense
  unsupported,  // valid, but umd (or the device) cannot do it
  retry,        // transient: try again later (kept apart from "this member failed")
  no_space,     // device too small, out of range
  not_found,    // no superblock, no such member
  busy,         // in use
};

const char* err_name(Err e);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Err code, std::string message);

  static Status ok() { return Status(); }
  static Status from_errno(int errnum, const std::string& context);

  bool is_ok() const { return rep_ == nullptr; }
  Err code() const { return rep_ ? rep_->code : Err::ok; }
  int sys_errno() const { return rep_ ? rep_->errnum : 0; }
  const std::string& message() const;
  // A negative errno that best describes this status (0 when ok).
  int to_errno() const;
  // Prefix the message with context: "reading member d0.img: <message>".
  Status with_context(const std::string& context) const;

 private:
  struct Rep {
    Err code;
    int errnum;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}    // NOLINT: implicit by design
  Result(Err code, std::string msg) : v_(Status(code, std::move(msg))) {}

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace umd

#define UMD_CONCAT_INNER(a, b) a##b
#define UMD_CONCAT(a, b) UMD_CONCAT_INNER(a, b)

// Return the Status from the enclosing function when it is an error.
#define UMD_TRY(expr)                      \
  do {                                     \
    ::umd::Status umd_try_s_ = (expr);     \
    if (!umd_try_s_.is_ok()) return umd_try_s_; \
  } while (0)

// UMD_ASSIGN_OR_RETURN(auto x, f()): unwrap a Result or return its Status.
#define UMD_ASSIGN_OR_RETURN(decl, expr)                              \
  auto UMD_CONCAT(umd_r_, __LINE__) = (expr);                         \
  if (!UMD_CONCAT(umd_r_, __LINE__).is_ok())                          \
    return UMD_CONCAT(umd_r_, __LINE__).status();                     \
  decl = std::move(UMD_CONCAT(umd_r_, __LINE__)).value()
