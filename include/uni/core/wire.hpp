// uni/core/wire.hpp: big-endian fields read and written in place.
//
// The rule every wire format in uni/net follows (as smoltcp's wire module does):
// a header names each of its fixed fields once, as a `wire::field<T, Offset>` in
// a nested `layout` (RFC field names, offsets from the header's first byte), and
// reads and writes them only through those names: no literal offset appears in
// parse() or emit(). The bytes are touched only after one length check has proved
// that every fixed field is there (parse() checks `size`/`min_size`; a
// `header_view` is constructible only over that many bytes), so no accessor checks
// again. Variable parts (options, lists) are read at a cursor the parser has
// bounds-checked, with load_be16/load_be32. Most formats are a validated value
// with parse() and emit(); Ethernet, read and written in place, is a header_view.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include <uni/core/result.hpp>

namespace uni::wire {

// Big-endian words are read and written as a load or a store and a byte swap,
// always inline: shorter than a call (GCC at -Oz would otherwise call them)
// and than a byte at a time. (Bytes in a constant expression, where no memcpy
// runs.)
template <class T>
[[gnu::always_inline]] constexpr T byte_swapped(T v) noexcept {
  if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
  else return __builtin_bswap32(v);
}
template <class T>
[[gnu::always_inline]] constexpr T load_be(const std::uint8_t* p) noexcept {
  if (std::is_constant_evaluated()) {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v << 8 | p[i]);
    return v;
  }
  T v;
  __builtin_memcpy(&v, p, sizeof(T));  // (std::memcpy is a call where builtins are off: clang's Xen build)
  return std::endian::native == std::endian::little ? byte_swapped(v) : v;
}
template <class T>
[[gnu::always_inline]] constexpr void store_be(std::uint8_t* p, T v) noexcept {
  if (std::is_constant_evaluated()) {
    for (std::size_t i = sizeof(T); i-- > 0; v = static_cast<T>(v >> 8)) p[i] = static_cast<std::uint8_t>(v);
    return;
  }
  if constexpr (std::endian::native == std::endian::little) v = byte_swapped(v);
  __builtin_memcpy(p, &v, sizeof(T));
}
[[gnu::always_inline]] constexpr std::uint16_t load_be16(const std::uint8_t* p) noexcept { return load_be<std::uint16_t>(p); }
[[gnu::always_inline]] constexpr std::uint32_t load_be32(const std::uint8_t* p) noexcept { return load_be<std::uint32_t>(p); }
[[gnu::always_inline]] constexpr void store_be16(std::uint8_t* p, std::uint16_t v) noexcept { store_be(p, v); }
[[gnu::always_inline]] constexpr void store_be32(std::uint8_t* p, std::uint32_t v) noexcept { store_be(p, v); }

// A value type with its own wire form (an address): `wire_size` bytes, read by
// load() and written by store().
template <class T>
concept wire_value = requires(const std::uint8_t* in, std::uint8_t* out, const T& v) {
  { T::wire_size } -> std::convertible_to<std::size_t>;
  { T::load(in) } -> std::same_as<T>;
  v.store(out);
};

// A typed field at a fixed offset: `using total_length = field<std::uint16_t, 2>;`
// then `total_length::get(bytes)` / `total_length::set(bytes, v)`. T is an 8-, 16- or
// 32-bit integer or enum, or a wire_value (ipv4_address, mac_address).
template <class T, std::size_t Offset>
struct field {
  static constexpr std::size_t size = [] {
    if constexpr (wire_value<T>) return std::size_t{T::wire_size};
    else return sizeof(T);
  }();
  static_assert(wire_value<T> || size == 1 || size == 2 || size == 4, "8-, 16- or 32-bit fields");
  static constexpr std::size_t offset = Offset;
  static constexpr std::size_t end = Offset + size;

  static constexpr T get(const std::uint8_t* base) noexcept {
    if constexpr (wire_value<T>) return T::load(base + Offset);
    else if constexpr (size == 1) return static_cast<T>(base[Offset]);
    else if constexpr (size == 2) return static_cast<T>(load_be16(base + Offset));
    else return static_cast<T>(load_be32(base + Offset));
  }
  static constexpr void set(std::uint8_t* base, T v) noexcept {
    if constexpr (wire_value<T>) v.store(base + Offset);
    else if constexpr (size == 1) base[Offset] = static_cast<std::uint8_t>(v);
    else if constexpr (size == 2) store_be16(base + Offset, static_cast<std::uint16_t>(v));
    else store_be32(base + Offset, static_cast<std::uint32_t>(v));
  }
};

// Base for header views: holds the bytes and is constructible only with at least
// MinSize of them. Derived views add named accessors built from `field`.
template <std::size_t MinSize>
class header_view {
 public:
  static constexpr std::size_t min_size = MinSize;

  // The only way in: checks the length once, for every accessor after it.
  template <class Derived>
  static result<Derived> checked(std::span<std::uint8_t> bytes) noexcept {
    if (bytes.size() < MinSize) return fail(error::truncated);
    return Derived{bytes};
  }

  std::span<std::uint8_t> bytes() const noexcept { return bytes_; }
  std::uint8_t* data() const noexcept { return bytes_.data(); }
  std::size_t size() const noexcept { return bytes_.size(); }

 protected:
  explicit header_view(std::span<std::uint8_t> bytes) noexcept : bytes_(bytes) {}

  template <class F>
  auto get() const noexcept {
    static_assert(F::end <= MinSize, "field outside the checked header");
    return F::get(bytes_.data());
  }
  template <class F, class V>
  void set(V v) const noexcept {
    static_assert(F::end <= MinSize, "field outside the checked header");
    F::set(bytes_.data(), static_cast<decltype(F::get(nullptr))>(v));
  }

 private:
  std::span<std::uint8_t> bytes_;
};

}  // namespace uni::wire
