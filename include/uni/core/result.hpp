// uni/core/result.hpp: result<T>, a value or an uni::error (std::expected is C++23,
// and the Xen target needs something without exceptions anyway).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include <uni/core/error.hpp>
#include <uni/core/panic.hpp>

namespace uni {

// Tag to build a failed result: `return fail(error::timed_out);`
struct failure {
  error code;
};
constexpr failure fail(error e) noexcept { return failure{e}; }

// The panic of result<T>::value() on an error, written once and not per T.
[[noreturn, gnu::cold, gnu::noinline]] inline void value_of_error(error e) noexcept {
  panic("result::value() on an error: ", to_string(e));
}

template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  template <class U = T>
    requires std::is_constructible_v<T, U&&> &&
             (!std::is_same_v<std::remove_cvref_t<U>, result>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, failure>)
  constexpr result(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>)
      : value_(std::forward<U>(v)), error_(error::none) {}
  constexpr result(failure f) noexcept : empty_{}, error_(f.code == error::none ? error::invalid_argument : f.code) {}

  constexpr result(const result& o) requires std::is_copy_constructible_v<T> : empty_{}, error_(o.error_) {
    if (ok()) std::construct_at(&value_, o.value_);
  }
  constexpr result(result&& o) noexcept requires std::is_move_constructible_v<T> : empty_{}, error_(o.error_) {
    if (ok()) std::construct_at(&value_, std::move(o.value_));
  }
  constexpr result& operator=(const result& o) requires std::is_copy_constructible_v<T> {
    if (this != &o) {
      reset();
      if (o.ok()) std::construct_at(&value_, o.value_);
      error_ = o.error_;
    }
    return *this;
  }
  constexpr result& operator=(result&& o) noexcept requires std::is_move_constructible_v<T> {
    if (this != &o) {
      reset();
      if (o.ok()) std::construct_at(&value_, std::move(o.value_));
      error_ = o.error_;
    }
    return *this;
  }
  constexpr ~result() { reset(); }

  constexpr bool ok() const noexcept { return error_ == error::none; }
  constexpr explicit operator bool() const noexcept { return ok(); }
  constexpr error err() const noexcept { return error_; }

  constexpr T& value() & noexcept { check(); return value_; }
  constexpr const T& value() const& noexcept { check(); return value_; }
  constexpr T&& value() && noexcept { check(); return std::move(value_); }
  constexpr T* operator->() noexcept { return &value(); }
  constexpr const T* operator->() const noexcept { return &value(); }
  constexpr T& operator*() & noexcept { return value(); }
  constexpr const T& operator*() const& noexcept { return value(); }
  constexpr T&& operator*() && noexcept { return std::move(value()); }

 private:
  constexpr void check() const noexcept {
    if (!ok()) value_of_error(error_);
  }
  constexpr void reset() noexcept {
    if (ok()) std::destroy_at(&value_);
    error_ = error::cancelled;
  }

  struct empty {};
  union {
    empty empty_;
    T value_;
  };
  error error_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  constexpr result() noexcept = default;
  constexpr result(failure f) noexcept : error_(f.code == error::none ? error::invalid_argument : f.code) {}
  constexpr bool ok() const noexcept { return error_ == error::none; }
  constexpr explicit operator bool() const noexcept { return ok(); }
  constexpr error err() const noexcept { return error_; }

 private:
  error error_ = error::none;
};

}  // namespace uni
