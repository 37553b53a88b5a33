// uni/core/format.hpp: a tiny allocation-free text formatter for logs and panics.
// printf is not available on the freestanding Xen target, and iostreams cost too
// much; this writes strings, integers, hex and any type with a `format_value`
// overload (found by ADL) into a fixed buffer, truncating when it is full.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>
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
  // Drops what was written after the first `n` characters.
  void truncate(std::size_t n) noexcept {
    if (n < len_) len_ = n;
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

// A line's text with a hole "{}" for each value, as the first argument of a
// format_to, log or panic call: log_info(fmt<"rx {} of {} slots">, n, total)
// writes what log_info("rx ", n, " of ", total, " slots") does. The texts
// between the holes are one constant (each ended by a NUL), so the call site
// stores one pointer for all of them, not a pointer and a length for each; the
// number of holes is checked against the values at compile time. No escapes:
// the text holds no "{}" of its own.
template <std::size_t N>
struct format_text {  // the text as written, holes and all
  char text[N]{};
  consteval format_text(const char (&written)[N]) noexcept {
    for (std::size_t i = 0; i < N; ++i) text[i] = written[i];
  }
  constexpr bool hole_at(std::size_t i) const noexcept { return i + 2 < N && text[i] == '{' && text[i + 1] == '}'; }
  constexpr std::size_t holes() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < N; ++i) n += hole_at(i);
    return n;
  }
};
template <format_text Text>
struct format_pieces {
  static constexpr std::size_t holes = Text.holes();
  // Only this is in the image: a char array, the pieces each ended by a NUL.
  alignas(1) static constexpr std::array<char, sizeof(Text.text) - holes> pieces_ = [] {
    std::array<char, sizeof(Text.text) - holes> out{};
    for (std::size_t i = 0, o = 0; o < out.size(); ++i, ++o) {
      out[o] = Text.hole_at(i) ? '\0' : Text.text[i];
      i += Text.hole_at(i);
    }
    return out;
  }();
  static constexpr const char* pieces() noexcept { return pieces_.data(); }
};
template <format_text Text>
inline constexpr format_pieces<Text> fmt{};

// The arguments of one format_to, log or panic call with their types erased, in
// two parts: how many there are and what kind each one is, a constant table (a
// byte each, in .rodata, one per list of kinds), and their values, one or two words each, which
// are all a call site stores. Text, integers and hex are
// written by write_args, once for the whole program; any other type by its own
// format_value, through a thunk made once per type. So a log line or a panic
// costs its call site a store or two per argument, not a function per list of
// argument types.
namespace detail {

enum class arg_kind : std::uint8_t { text, c_text, character, signed_int, unsigned_int, hex, other, pieces };

using write_fn = void (*)(text_writer&, const void*) noexcept;
union arg_word {
  const void* pointer;
  std::uint64_t number;
  write_fn fn;
};

template <class T> inline constexpr bool is_format_pieces = false;
template <format_text Text> inline constexpr bool is_format_pieces<format_pieces<Text>> = true;

template <class T> inline constexpr bool is_hex_value = false;
template <class T> inline constexpr bool is_hex_value<hex_value<T>> = true;

template <class T>
void write_other(text_writer& w, const void* v) noexcept;

template <class T>
consteval arg_kind kind_of() noexcept {
  using D = std::decay_t<T>;  // a char array is a C string
  if constexpr (std::same_as<D, char>) return arg_kind::character;
  else if constexpr (std::same_as<D, bool>) return arg_kind::c_text;
  else if constexpr (std::integral<D>) return std::is_signed_v<D> ? arg_kind::signed_int : arg_kind::unsigned_int;
  // A C string's length is found when it is written: the call site stores one
  // pointer, not a pointer and a length.
  else if constexpr (std::same_as<D, const char*> || std::same_as<D, char*>) return arg_kind::c_text;
  else if constexpr (is_hex_value<D>) return arg_kind::hex;
  // Any other data pointer: its address in hex, as hex() writes one (it
  // converted to bool, and format_value(bool) wrote "true").
  else if constexpr (std::is_pointer_v<D> && !std::is_function_v<std::remove_pointer_t<D>>) return arg_kind::hex;
  else if constexpr (is_format_pieces<D>) return arg_kind::pieces;
  else if constexpr (std::convertible_to<const T&, std::string_view>) return arg_kind::text;
  else {
    static_assert(requires(text_writer& w, const T& v) { format_value(w, v); },
                  "uni::format_to: no format_value(text_writer&, const T&) for this argument");
    return arg_kind::other;
  }
}

template <class T>
consteval std::size_t words_of() noexcept {
  constexpr arg_kind k = kind_of<T>();
  return k == arg_kind::text || k == arg_kind::hex || k == arg_kind::other ? 2 : 1;
}

template <class T>
[[gnu::always_inline]] inline void store_arg(arg_word* w, const T& v) noexcept {
  constexpr arg_kind k = kind_of<T>();
  if constexpr (std::same_as<T, bool>) w[0].pointer = v ? "true" : "false";
  else if constexpr (k == arg_kind::character) w[0].number = static_cast<unsigned char>(v);
  else if constexpr (k == arg_kind::signed_int) w[0].number = static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
  else if constexpr (k == arg_kind::unsigned_int) w[0].number = v;
  else if constexpr (k == arg_kind::c_text) w[0].pointer = static_cast<const char*>(v);
  else if constexpr (k == arg_kind::pieces) w[0].pointer = T::pieces();
  else if constexpr (k == arg_kind::hex && std::is_pointer_v<std::decay_t<T>>)
    w[0].number = reinterpret_cast<std::uintptr_t>(static_cast<std::decay_t<T>>(v)), w[1].number = 0;
  else if constexpr (k == arg_kind::hex) w[0].number = v.value, w[1].number = static_cast<std::uint64_t>(v.width);
  else if constexpr (k == arg_kind::text) {
    const std::string_view s = v;
    w[0].pointer = s.data(), w[1].number = s.size();
  } else w[0].pointer = &v, w[1].fn = &write_other<T>;
}

// The length of a list, then each argument's kind. One table per list of kinds,
// not per list of types: "a: ", n and "b: ", m share it.
template <arg_kind... Kinds>
  requires(sizeof...(Kinds) < 256)
inline constexpr std::uint8_t kind_list[] = {sizeof...(Kinds), static_cast<std::uint8_t>(Kinds)...};

// fmt<"...">'s holes, one for each value after it.
template <class... Args>
consteval bool holes_match() noexcept {
  if constexpr (sizeof...(Args) == 0) return true;
  else {
    using First = std::decay_t<std::tuple_element_t<0, std::tuple<Args...>>>;
    if constexpr (is_format_pieces<First>) return First::holes + 1 == sizeof...(Args);
    else return ((!is_format_pieces<std::decay_t<Args>>) && ...);  // fmt<> only first
  }
}

template <class... Args>
struct format_args {
  static_assert(holes_match<Args...>(), "uni: fmt<\"...\">'s \"{}\" holes and the values after it differ in number");
  static constexpr const std::uint8_t* kinds = kind_list<kind_of<Args>()...>;
  arg_word words[(words_of<Args>() + ... + 0)];

  [[gnu::always_inline]] explicit format_args(const Args&... args) noexcept {
    arg_word* w = words;
    ((store_arg(w, args), w += words_of<Args>()), ...);
  }
};

// The digits of `u` in base 10 or 16, at least `width` of them: every integer and
// hex value is written here.
[[gnu::noinline]] inline void write_digits(text_writer& w, std::uint64_t u, unsigned base, int width) noexcept {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[u % base];
    u /= base;
  } while (u != 0);
  for (int i = n; i < width; ++i) w.put('0');
  while (n > 0) w.put(digits[--n]);
}
}  // namespace detail

template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void format_value(text_writer& w, T v) noexcept {
  auto u = static_cast<std::uint64_t>(v);
  if constexpr (std::is_signed_v<T>) {
    if (v < 0) {
      w.put('-');
      u = 0 - u;
    }
  }
  detail::write_digits(w, u, 10, 0);
}

template <std::unsigned_integral T>
void format_value(text_writer& w, hex_value<T> h) noexcept {
  detail::write_digits(w, h.value, 16, h.width);
}

namespace detail {

template <class T>
void write_other(text_writer& w, const void* v) noexcept {
  format_value(w, *static_cast<const T*>(v));
}

[[gnu::noinline]] inline void write_args(text_writer& w, const std::uint8_t* kinds, const arg_word* words) noexcept {
  const char* pieces = nullptr;  // fmt<"...">'s: the next text to write before a value
  for (std::size_t i = 1; i <= kinds[0]; ++i) {
    const arg_word a = *words++;
    if (pieces) {
      format_value(w, pieces);
      while (*pieces++ != '\0') {}
    }
    switch (static_cast<arg_kind>(kinds[i])) {
      case arg_kind::pieces: pieces = static_cast<const char*>(a.pointer); break;
      case arg_kind::text: w.put(std::string_view{static_cast<const char*>(a.pointer), (words++)->number}); break;
      case arg_kind::c_text: format_value(w, static_cast<const char*>(a.pointer)); break;
      case arg_kind::character: w.put(static_cast<char>(a.number)); break;
      case arg_kind::signed_int: format_value(w, static_cast<std::int64_t>(a.number)); break;
      case arg_kind::unsigned_int: format_value(w, a.number); break;
      case arg_kind::hex: format_value(w, hex_value<std::uint64_t>{a.number, static_cast<int>((words++)->number)}); break;
      case arg_kind::other: (words++)->fn(w, a.pointer); break;
    }
  }
  if (pieces) format_value(w, pieces);
}

}  // namespace detail

template <class... Args>
[[gnu::always_inline]] inline void format_to(text_writer& w, const Args&... args) noexcept {
  if constexpr (sizeof...(Args) > 0) {
    const detail::format_args<Args...> list(args...);
    detail::write_args(w, list.kinds, list.words);
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
