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

template <class... Args>
void format_to(text_writer& w, const Args&... args) noexcept {
  (format_value(w, args), ...);
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
