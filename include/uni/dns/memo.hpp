// uni/dns/memo.hpp: the memo table, answers already built kept by the bytes of
// what they depend on (the paper's memoization, Section 4.2).
//
// Laid out for the cache: the index is a table of 8-way sets, each one cache
// line of eight (hash, place) pairs, and the keys and answers are packed one
// after another in an arena, so 10,000 answers of ~100 bytes take ~1 MB and a
// hit reads one index line and the one or two lines of its entry. (A table of
// fixed-size slots big enough for any answer spread the same answers over
// megabytes: a cache and TLB miss per query.) A full set gives up one of its
// entries; a full arena forgets everything at once and fills again. Both sizes
// are fixed when the table is made: the query path never allocates.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace uni::dns {

class memo_table {
 public:
  static constexpr std::size_t ways = 8;

  memo_table() = default;
  // Room for about `entries` answers (rounded up to whole sets, a power of two)
  // and `arena_bytes` of keys and answers; 0 entries: no table.
  memo_table(std::size_t entries, std::size_t arena_bytes)
      : set_count_(entries && arena_bytes ? sets_for(entries) : 0),
        arena_size_(set_count_ ? std::min<std::size_t>(arena_bytes, UINT32_MAX) : 0),
        sets_(set_count_ ? new set[set_count_] : nullptr),
        arena_(set_count_ ? new std::uint8_t[arena_size_] : nullptr) {}

  bool enabled() const noexcept { return set_count_ != 0; }
  std::size_t capacity() const noexcept { return set_count_ * ways; }
  std::size_t arena_bytes() const noexcept { return arena_size_; }
  std::uint64_t flushes() const noexcept { return flushes_; }

  // The answer kept for `key` (whose hash is `hash`), or an empty span.
  std::span<const std::uint8_t> find(std::span<const std::uint8_t> key, std::uint32_t hash) const noexcept {
    const set& s = sets_[hash & (set_count_ - 1)];
    for (std::size_t i = 0; i < ways; ++i) {
      if (s.hash[i] != hash || s.at[i] == 0) continue;
      const std::uint8_t* e = arena_.get() + s.at[i] - 1;
      const std::size_t key_length = load16(e), answer_length = load16(e + 2);
      if (key_length == key.size() && std::memcmp(e + 4, key.data(), key.size()) == 0)
        return {e + 4 + key_length, answer_length};
    }
    return {};
  }

  // Keeps `answer` for `key`; an older entry of the same set may be given up.
  void insert(std::span<const std::uint8_t> key, std::uint32_t hash, std::span<const std::uint8_t> answer) noexcept {
    const std::size_t need = 4 + key.size() + answer.size();
    if (!enabled() || key.size() > 0xffff || answer.size() > 0xffff || need > arena_size_) return;
    if (used_ + need > arena_size_) {  // full: start again
      std::fill_n(sets_.get(), set_count_, set{});
      used_ = 0;
      ++flushes_;
    }
    set& s = sets_[hash & (set_count_ - 1)];
    std::size_t way = 0;
    while (way < ways && s.at[way] != 0 && !(s.hash[way] == hash && same_key(s.at[way], key))) ++way;
    if (way == ways) way = victim_++ % ways;  // all taken by others: turn about
    std::uint8_t* e = arena_.get() + used_;
    store16(e, key.size());
    store16(e + 2, answer.size());
    std::memcpy(e + 4, key.data(), key.size());
    std::memcpy(e + 4 + key.size(), answer.data(), answer.size());
    s.hash[way] = hash;
    s.at[way] = static_cast<std::uint32_t>(used_ + 1);
    used_ += need;
  }

 private:
  struct alignas(64) set {
    std::uint32_t hash[ways] = {};
    std::uint32_t at[ways] = {};  // place in the arena + 1; 0: empty
  };
  static_assert(sizeof(set) == 64, "a set is one cache line");

  static std::size_t sets_for(std::size_t entries) noexcept {
    std::size_t sets = 1;
    while (sets * ways < entries) sets *= 2;
    return sets;
  }
  static std::size_t load16(const std::uint8_t* p) noexcept { return std::size_t{p[0]} | std::size_t{p[1]} << 8; }
  static void store16(std::uint8_t* p, std::size_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
  }
  bool same_key(std::uint32_t at, std::span<const std::uint8_t> key) const noexcept {
    const std::uint8_t* e = arena_.get() + at - 1;
    return load16(e) == key.size() && std::memcmp(e + 4, key.data(), key.size()) == 0;
  }

  // Arrays made once, at their sizes (no std::vector: its growth is never needed).
  std::size_t set_count_ = 0;
  std::size_t arena_size_ = 0;
  std::unique_ptr<set[]> sets_;
  std::unique_ptr<std::uint8_t[]> arena_;
  std::size_t used_ = 0;
  std::size_t victim_ = 0;
  std::uint64_t flushes_ = 0;
};

}  // namespace uni::dns
