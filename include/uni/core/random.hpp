// uni/core/random.hpp: a small, fast, seedable generator (xoshiro256**, seeded by
// splitmix64). Deterministic from its seed, so simulations replay exactly.
// Not for secrets: initial sequence numbers and cookies mix in a keyed hash.
#pragma once

#include <cstdint>

namespace uni {

class random_generator {
 public:
  using result_type = std::uint64_t;

  explicit constexpr random_generator(std::uint64_t seed = 0x9e3779b97f4a7c15ull) noexcept { reseed(seed); }

  constexpr void reseed(std::uint64_t seed) noexcept {
    for (auto& word : s_) {  // splitmix64 spreads any seed, 0 included, over the state
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      word = z ^ (z >> 31);
    }
  }

  constexpr std::uint64_t operator()() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound) (bound > 0), by Lemire's multiply-shift.
  constexpr std::uint64_t below(std::uint64_t bound) noexcept {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>((*this)()) * bound) >> 64);
  }
  // True with probability per_million / 1e6.
  constexpr bool chance(std::uint32_t per_million) noexcept { return below(1'000'000) < per_million; }

  static constexpr std::uint64_t min() noexcept { return 0; }
  static constexpr std::uint64_t max() noexcept { return ~std::uint64_t{0}; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace uni
