// uni/net/tcp/seq.hpp: TCP sequence numbers, compared modulo 2^32 (RFC 9293 §3.4):
// a < b when b is less than 2^31 ahead of a.
#pragma once

#include <cstdint>

namespace uni::tcp {

struct seq32 {
  std::uint32_t value = 0;

  constexpr seq32 operator+(std::uint32_t n) const noexcept { return {value + n}; }
  constexpr seq32 operator-(std::uint32_t n) const noexcept { return {value - n}; }
  constexpr seq32& operator+=(std::uint32_t n) noexcept {
    value += n;
    return *this;
  }
  // Distance from `from` to this (valid when this is not before `from`).
  constexpr std::uint32_t operator-(seq32 from) const noexcept { return value - from.value; }
  friend constexpr bool operator==(seq32, seq32) noexcept = default;
  friend constexpr bool operator<(seq32 a, seq32 b) noexcept { return static_cast<std::int32_t>(a.value - b.value) < 0; }
  friend constexpr bool operator>(seq32 a, seq32 b) noexcept { return b < a; }
  friend constexpr bool operator<=(seq32 a, seq32 b) noexcept { return !(b < a); }
  friend constexpr bool operator>=(seq32 a, seq32 b) noexcept { return !(a < b); }
};

constexpr seq32 max(seq32 a, seq32 b) noexcept { return a < b ? b : a; }
constexpr seq32 min(seq32 a, seq32 b) noexcept { return a < b ? a : b; }

// lo <= s < hi, all modulo 2^32.
constexpr bool in_window(seq32 s, seq32 lo, seq32 hi) noexcept { return lo <= s && s < hi; }

}  // namespace uni::tcp
