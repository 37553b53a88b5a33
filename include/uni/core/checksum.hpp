// uni/core/checksum.hpp: the Internet checksum (RFC 1071) and its incremental
// update (RFC 1624, eqn. 3), used by IPv4, ICMP, UDP and TCP.
//
// `checksum_accumulator` sums any sequence of byte spans as if they were one
// buffer (an odd-length span carries its last byte over to the next), so a
// pseudo-header, a header and scattered payload fragments sum without copying.
// At run time the bulk of a span is read 64 bits at a time in the host's byte
// order and summed with end-around carry: RFC 1071 §2 (B) and (C), the sum does
// not depend on byte order (swapped once at the end) and may be taken in wider
// words (folded at the end), as Linux's csum_partial does.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace uni {

class checksum_accumulator {
 public:
  constexpr void add(std::span<const std::uint8_t> bytes) noexcept {
    std::size_t i = 0;
    const std::size_t n = bytes.size();
    if (odd_ && n > 0) {  // pair the carried byte with this span's first
      sum_ += bytes[0];
      odd_ = false;
      i = 1;
    }
    // From 16 bytes on (an IPv4 or TCP header, a small datagram) the word sum
    // and its fold take fewer instructions than the loop below (callgrind).
    if (!std::is_constant_evaluated() && n - i >= word_sum_from) i += add_words(bytes.data() + i, n - i);
    // Eight bytes per step into a 64-bit sum: carries are folded at the end.
    for (; i + 8 <= n; i += 8) {
      sum_ += (std::uint64_t{bytes[i]} << 8) + bytes[i + 1];
      sum_ += (std::uint64_t{bytes[i + 2]} << 8) + bytes[i + 3];
      sum_ += (std::uint64_t{bytes[i + 4]} << 8) + bytes[i + 5];
      sum_ += (std::uint64_t{bytes[i + 6]} << 8) + bytes[i + 7];
    }
    for (; i + 2 <= n; i += 2) sum_ += (std::uint64_t{bytes[i]} << 8) + bytes[i + 1];
    if (i < n) {
      sum_ += std::uint64_t{bytes[i]} << 8;
      odd_ = true;
    }
  }
  constexpr void add16(std::uint16_t v) noexcept { sum_ += v; }
  constexpr void add32(std::uint32_t v) noexcept { sum_ += (v >> 16) + (v & 0xffff); }

  // The one's-complement sum folded to 16 bits (not yet complemented).
  constexpr std::uint16_t folded() const noexcept {
    std::uint64_t s = sum_;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(s);
  }
  // The value to store in a checksum field.
  constexpr std::uint16_t finish() const noexcept { return static_cast<std::uint16_t>(~folded()); }

 private:
  static constexpr std::size_t word_sum_from = 16;  // bytes

  // Sums the whole 64-bit words at `p` (of `n` bytes) in the host's byte order;
  // returns how many bytes it summed. Four running sums keep the carries of one
  // addition off the next one's path.
  std::size_t add_words(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      add_word(s0, p + i);
      add_word(s1, p + i + 8);
      add_word(s2, p + i + 16);
      add_word(s3, p + i + 24);
    }
    for (; i + 8 <= n; i += 8) add_word(s0, p + i);
    add_carried(s0, s1);
    add_carried(s2, s3);
    add_carried(s0, s2);
    // 2^16 = 1 (mod 2^16 - 1), which divides 2^64 - 1: fold to 16 bits.
    std::uint64_t f = (s0 & 0xffffffff) + (s0 >> 32);
    while (f >> 16) f = (f & 0xffff) + (f >> 16);
    if constexpr (std::endian::native == std::endian::little) f = ((f & 0xff) << 8) | (f >> 8);
    sum_ += f;
    return i;
  }

  // One's complement addition mod 2^64 - 1: the carry out comes back in.
  static void add_carried(std::uint64_t& to, std::uint64_t v) noexcept {
    to += v;
    to += to < v;
  }
  static void add_word(std::uint64_t& to, const std::uint8_t* at) noexcept {
    std::uint64_t w;
    std::memcpy(&w, at, sizeof w);
    add_carried(to, w);
  }

  std::uint64_t sum_ = 0;
  bool odd_ = false;
};

namespace detail {
// The folded sum of a short buffer (an IPv4 header: 20 bytes): 32-bit words in
// the host's order added into 64 bits, which cannot carry out below 2^32 words,
// folded and swapped once (RFC 1071 §2 (B), (C)). ~30 instructions for an IPv4
// header against ~95 through checksum_accumulator, whose word sum pays for its
// generality (spans in pieces, four running sums) only on longer buffers.
inline std::uint16_t short_sum(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t s = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    std::uint32_t w;
    std::memcpy(&w, p + i, sizeof w);
    s += w;
  }
  if (i + 2 <= n) {
    std::uint16_t w;
    std::memcpy(&w, p + i, sizeof w);
    s += w;
    i += 2;
  }
  // A last odd byte is the high half of a big-endian word: in memory order, the first byte.
  if (i < n) s += std::endian::native == std::endian::little ? std::uint64_t{p[i]} : std::uint64_t{p[i]} << 8;
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  auto f = static_cast<std::uint16_t>(s);
  if constexpr (std::endian::native == std::endian::little) f = static_cast<std::uint16_t>(f << 8 | f >> 8);
  return f;
}
inline constexpr std::size_t short_sum_below = 64;  // bytes; from here the accumulator's word sum is faster
}  // namespace detail

// Checksum of one buffer. A buffer that includes a correct checksum field sums to 0.
constexpr std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) noexcept {
  if (!std::is_constant_evaluated() && bytes.size() < detail::short_sum_below)
    return static_cast<std::uint16_t>(~detail::short_sum(bytes.data(), bytes.size()));
  checksum_accumulator acc;
  acc.add(bytes);
  return acc.finish();
}

// RFC 1624: the new checksum after one 16-bit word of the covered data changes
// from `old_word` to `new_word`, without summing everything again.
constexpr std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_word,
                                          std::uint16_t new_word) noexcept {
  std::uint32_t s = static_cast<std::uint16_t>(~checksum);
  s += static_cast<std::uint16_t>(~old_word);
  s += new_word;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

constexpr std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                          std::uint32_t new_value) noexcept {
  checksum = checksum_update16(checksum, static_cast<std::uint16_t>(old_value >> 16),
                               static_cast<std::uint16_t>(new_value >> 16));
  return checksum_update16(checksum, static_cast<std::uint16_t>(old_value), static_cast<std::uint16_t>(new_value));
}

}  // namespace uni
