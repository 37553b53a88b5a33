// uni/core/format.hpp: a tiny allocation-free text formatter for logs and panics.
// printf is not available on the freestanding Xen target, and iostreams cost too
// much; this writes strings, integers, hex and any type with a `format_value`
// overload (found by ADL) into a fixed buffer, truncating when it is full.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace uni {

class text_writer {
 public:
  text_writer(char* buf, std::size_t cap) noexcept : buf_(buf), cap_(cap) {}

  void put(char c) noexcept {
    if (len_ < cap_) buf_[len_++] = c;
  }
  void put(std::string_view s) noexcept {
    for (char c : s) put(c);
  }
  std::string_view view() const noexcept { return {buf_, len_}; }
  std::size_t size() const noexcept { return len_; }

 private:
  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
};

// Wrapper asking for hexadecimal output with at least `width` digits.
template <std::unsigned_integral T>
struct hex_value {
  T value;
  int width;
};
template <std::integral T>
constexpr hex_value<std::make_unsigned_t<T>> hex(T v, int width = 0) noexcept {
  return {static_cast<std::make_unsigned_t<T>>(v), width};
}

inline void format_value(text_writer& w, std::string_view s) noexcept { w.put(s); }
inline void format_value(text_writer& w, const char* s) noexcept { w.put(std::string_view{s ? s : "(null)"}); }
inline void format_value(text_writer& w, char c) noexcept { w.put(c); }
inline void format_value(text_writer& w, bool b) noexcept { w.put(b ? "true" : "false"); }

// One argument of format_to, with its type erased: text, integers and hex are
// written by write_args, once for the whole program; any other type by its own
// format_value, through a thunk made once per type. So a log line or a panic costs
// its call site a few stores, not a function per list of argument types.
class format_arg {
 public:
  format_arg(std::string_view s) noexcept : kind_{kind::text}, text_{s.data(), s.size()} {}
  // A C string's length is found when it is written: the call site stores one
  // pointer, not a pointer and a length.
  format_arg(const char* s) noexcept : kind_{kind::c_text}, c_text_{s} {}
  format_arg(const char& c) noexcept : kind_{kind::text}, text_{&c, 1} {}
  format_arg(bool b) noexcept : format_arg(std::string_view{b ? "true" : "false"}) {}
  template <std::integral T>
    requires(!std::same_as<T, char> && !std::same_as<T, bool>)
  format_arg(T v) noexcept {
    if constexpr (std::is_signed_v<T>) kind_ = kind::signed_int, signed_ = v;
    else kind_ = kind::unsigned_int, unsigned_ = v;
  }
  template <std::unsigned_integral T>
  format_arg(hex_value<T> h) noexcept : kind_{kind::hex}, hex_{h.value, h.width} {}
  template <class T>
    requires(!std::is_array_v<T> && !std::is_pointer_v<T> && !std::integral<T> &&
             !std::convertible_to<const T&, std::string_view> &&
             requires(text_writer& w, const T& v) { format_value(w, v); })
  format_arg(const T& v) noexcept : kind_{kind::other}, other_{&v, &write_other<T>} {}

  friend void write_args(text_writer& w, const format_arg* args, std::size_t n) noexcept;

 private:
  enum class kind : std::uint8_t { text, c_text, signed_int, unsigned_int, hex, other };
  using write_fn = void (*)(text_writer&, const void*) noexcept;
  template <class T>
  static void write_other(text_writer& w, const void* v) noexcept { format_value(w, *static_cast<const T*>(v)); }

  void write(text_writer& w) const noexcept;

  // Named, not anonymous: types declared inside an anonymous union are an
  // extension ISO C++ does not have (clang's -Wpedantic says so).
  struct text_arg {
    const char* data;
    std::size_t size;
  };
  struct other_arg {
    const void* value;
    write_fn fn;
  };
  struct hex_arg {
    std::uint64_t value;
    int width;
  };
  kind kind_;
  union {
    text_arg text_;
    const char* c_text_;
    hex_arg hex_;
    std::int64_t signed_;
    std::uint64_t unsigned_;
    other_arg other_;
  };
};

template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void format_value(text_writer& w, T v) noexcept {
  char digits[24];
  int n = 0;
  using U = std::make_unsigned_t<T>;
  U u = static_cast<U>(v);
  if constexpr (std::is_signed_v<T>) {
    if (v < 0) {
      w.put('-');
      u = static_cast<U>(U{0} - u);
    }
  }
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  while (n > 0) w.put(digits[--n]);
}

template <std::unsigned_integral T>
void format_value(text_writer& w, hex_value<T> h) noexcept {
  char digits[2 * sizeof(T)];
  int n = 0;
  T u = h.value;
  do {
    digits[n++] = "0123456789abcdef"[u & 0xf];
    u >>= 4;
  } while (u != 0);
  for (int i = n; i < h.width; ++i) w.put('0');
  while (n > 0) w.put(digits[--n]);
}

inline void format_arg::write(text_writer& w) const noexcept {
  switch (kind_) {
    case kind::text: w.put(std::string_view{text_.data, text_.size}); break;
    case kind::c_text: format_value(w, c_text_); break;
    case kind::signed_int: format_value(w, signed_); break;
    case kind::unsigned_int: format_value(w, unsigned_); break;
    case kind::hex: format_value(w, hex_value<std::uint64_t>{hex_.value, hex_.width}); break;
    case kind::other: other_.fn(w, other_.value); break;
  }
}

[[gnu::noinline]] inline void write_args(text_writer& w, const format_arg* args, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) args[i].write(w);
}

template <class... Args>
void format_to(text_writer& w, const Args&... args) noexcept {
  if constexpr (sizeof...(Args) > 0) {
    const format_arg list[] = {format_arg(args)...};
    write_args(w, list, sizeof...(Args));
  }
}

// Formats into a fixed inline buffer: `uni::fixed_text<64> t; format_to(t.writer(), ...)`.
template <std::size_t N>
class fixed_text {
 public:
  template <class... Args>
  explicit fixed_text(const Args&... args) noexcept {
    format_to(w_, args...);
  }
  std::string_view view() const noexcept { return w_.view(); }

 private:
  char buf_[N];
  text_writer w_{buf_, N};
};

}  // namespace uni
