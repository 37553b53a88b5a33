// uni/btree/hash.hpp: the 64-bit checksum the B-tree puts on every node, commit
// record and metadata slot. Not cryptographic: it catches torn and scribbled
// blocks (any change of one bit changes about half the result's bits) and is fast
// enough to run over every block written and read: hash_of() runs four
// independent lanes, one 64 x 64-bit multiply per 16 bytes, so checking a 4 KiB
// node costs less than reading it from the host's page cache.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace uni::btree {

// A little-endian 64-bit word (the on-disk format's, and the hash's words): one
// load, not eight (GCC does not fold the byte loop); a descent reads two per level.
inline std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

class block_hash {
 public:
  constexpr explicit block_hash(std::uint64_t seed = 0) noexcept : h_(seed ^ k1) {}

  void add(std::span<const std::uint8_t> bytes) noexcept {
    const std::uint8_t* p = bytes.data();
    std::size_t n = bytes.size();
    length_ += n;
    for (; n >= 8; n -= 8, p += 8) mix(load64(p));
    if (n > 0) {
      std::uint64_t w = 0;
      std::memcpy(&w, p, n);
      mix(w ^ (std::uint64_t{n} << 56));
    }
  }
  void add64(std::uint64_t v) noexcept {
    length_ += 8;
    mix(v);
  }

  // Every input bit reaches every output bit (a final avalanche).
  std::uint64_t finish() const noexcept {
    std::uint64_t x = h_ ^ length_;
    x ^= x >> 33;
    x *= k2;
    x ^= x >> 29;
    x *= k3;
    x ^= x >> 32;
    return x;
  }

 private:
  static constexpr std::uint64_t k1 = 0x9e3779b97f4a7c15ull;
  static constexpr std::uint64_t k2 = 0xff51afd7ed558ccdull;
  static constexpr std::uint64_t k3 = 0xc4ceb9fe1a85ec53ull;
  void mix(std::uint64_t w) noexcept {
    w *= k2;
    w = (w << 31) | (w >> 33);
    h_ ^= w * k3;
    h_ = ((h_ << 27) | (h_ >> 37)) * 5 + k1;
  }
  std::uint64_t h_;
  std::uint64_t length_ = 0;
};

// 64 x 64 -> 128-bit product, its halves folded: one multiply mixes 16 bytes.
__extension__ typedef unsigned __int128 uint128;  // GCC and Clang on 64-bit targets
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  const uint128 p = static_cast<uint128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}


// Whole 64-byte stripes go through four lanes that do not wait on each other
// (the multiplies overlap), each lane chained so that order counts; the lanes
// and the tail then go through block_hash. The lanes are four variables, not an
// array: GCC kept an array's lanes in memory (and the 128-bit products on the
// stack) at -O2 and -Oz, which made a 4 KiB node's hash twice as slow.
inline std::uint64_t hash_of(std::span<const std::uint8_t> bytes, std::uint64_t seed = 0) noexcept {
  constexpr std::uint64_t k0 = 0x9e3779b97f4a7c15ull, k1 = 0xff51afd7ed558ccdull, k2 = 0xc4ceb9fe1a85ec53ull,
                          k3 = 0xa0761d6478bd642full;
  const std::size_t stripes = bytes.size() / 64;
  block_hash h(seed);
  if (stripes > 0) {
    std::uint64_t l0 = seed ^ k0, l1 = seed ^ k1, l2 = seed ^ k2, l3 = seed ^ k3;
    for (const std::uint8_t *p = bytes.data(), *end = p + 64 * stripes; p != end; p += 64) {
      l0 = fold_multiply(load64(p) ^ l0, load64(p + 8) ^ k0);
      l1 = fold_multiply(load64(p + 16) ^ l1, load64(p + 24) ^ k1);
      l2 = fold_multiply(load64(p + 32) ^ l2, load64(p + 40) ^ k2);
      l3 = fold_multiply(load64(p + 48) ^ l3, load64(p + 56) ^ k3);
    }
    h.add64(l0);
    h.add64(l1);
    h.add64(l2);
    h.add64(l3);
  }
  h.add(bytes.subspan(stripes * 64));
  h.add64(bytes.size());
  return h.finish();
}

}  // namespace uni::btree
