// uni/btree/hash.hpp: the 64-bit checksum the B-tree puts on every node, commit
// record and metadata slot. Not cryptographic: it catches torn and scribbled
// blocks (any change of one bit changes about half the result's bits) and is fast
// enough to run over every block written and read: eight bytes per step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace uni::btree {

class block_hash {
 public:
  constexpr explicit block_hash(std::uint64_t seed = 0) noexcept : h_(seed ^ k1) {}

  void add(std::span<const std::uint8_t> bytes) noexcept {
    const std::uint8_t* p = bytes.data();
    std::size_t n = bytes.size();
    length_ += n;
    for (; n >= 8; n -= 8, p += 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      mix(w);
    }
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

inline std::uint64_t hash_of(std::span<const std::uint8_t> bytes, std::uint64_t seed = 0) noexcept {
  block_hash h(seed);
  h.add(bytes);
  return h.finish();
}

}  // namespace uni::btree
