// uni/btree/node.hpp: one B-tree node, as the bytes of one block.
//
//   0  u64 checksum      hash_of bytes 8 to the end of offset[], then of the
//                        entries (data_start..size), seeded with the position
//                        and the store's id (a block of another store fails)
//   8  u64 position      where in the log the node was written (a copy read back
//                        from anywhere else, or a stale block, fails the check)
//  16  u8  kind          leaf (values) or branch (children)
//  18  u16 count         entries
//  20  u16 data_start    lowest byte used by entry data
//  24  u16 offset[count] where entry i starts, in key order
//  ... free ...
//      entries, packed towards the end: u16 key size, u16 value size, key, value
//
// A branch entry's value is the child's position and the lowest position in the
// child's subtree (u64 each): compaction skips whole subtrees that hold nothing
// old. Entry i of a branch covers keys from its key up to entry i+1's key; entry
// 0 covers everything below too. Integers are little-endian.
//
// node_view::check() validates a block read from the device (checksum, position,
// every offset and length inside the block); after it has passed, no accessor
// reads outside the block. node_builder writes a node into a block.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include <uni/btree/hash.hpp>

namespace uni::btree {

inline std::uint16_t load16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
inline void store16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void store64(std::uint8_t* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

enum class node_kind : std::uint8_t { leaf = 1, branch = 2 };

// Asks the CPU to bring the line holding `p` into its caches.
inline void prefetch_line(const std::uint8_t* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*p));
#else
  __builtin_prefetch(p);
#endif
}

inline constexpr std::size_t node_header = 24;
inline constexpr std::size_t entry_header = 4;
inline constexpr std::size_t child_value = 16;  // position, lowest position below

// Covers the header and offsets, then the entries: not the free gap between
// them, which no accessor reads (a fifth of a typical leaf, hashed on every
// cache miss). Bounds out of place are clamped here and refused by check().
inline std::uint64_t node_checksum(std::span<const std::uint8_t> block, std::uint64_t id) noexcept {
  const std::size_t offsets_end = std::min(node_header + 2 * std::size_t{load16(block.data() + 18)}, block.size());
  const std::size_t start = std::max<std::size_t>(std::min<std::size_t>(load16(block.data() + 20), block.size()), offsets_end);
  const std::uint64_t head = hash_of(block.subspan(8, offsets_end - 8), load64(block.data() + 8) ^ (id * 0x9e3779b97f4a7c15ull));
  return hash_of(block.subspan(start), head);
}

struct entry {
  std::span<const std::uint8_t> key;
  std::span<const std::uint8_t> value;
};

inline std::string_view as_text(std::span<const std::uint8_t> b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The byte order of two keys (<0, 0, >0), eight bytes a step: keys are short,
// and a call to memcmp per probe of a binary search costs more than the compare.
inline int compare_keys(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little) {
        x = __builtin_bswap64(x);
        y = __builtin_bswap64(y);
      }
      return x < y ? -1 : 1;
    }
  }
  for (; i < n; ++i)
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

// The key a branch gives the node whose first key is `right`, placed after a
// node whose last key is `left` (left < right): the shortest prefix of `right`
// still above `left`. Any key in (left, right] routes lookups alike; short ones
// put more children in a branch, so more of a tree's branches fit in the node
// cache (random 16-byte keys need 2 or 3 bytes, not 16).
inline std::span<const std::uint8_t> separator(std::span<const std::uint8_t> left,
                                               std::span<const std::uint8_t> right) noexcept {
  std::size_t i = 0;
  while (i < left.size() && i < right.size() && left[i] == right[i]) ++i;
  return right.first(std::min(i + 1, right.size()));
}

// A child reference as a branch stores it.
struct child {
  std::uint64_t position;
  std::uint64_t lowest;
};

class node_view {
 public:
  explicit node_view(const std::uint8_t* block, std::size_t size) noexcept : b_(block), size_(size) {}

  // Is this a well-formed node of store `id`, written at `position`?
  bool check(std::uint64_t position, std::uint64_t id) const noexcept {
    if (size_ < node_header || load64(b_ + 8) != position || load64(b_) != node_checksum({b_, size_}, id)) return false;
    if (b_[16] != static_cast<std::uint8_t>(node_kind::leaf) && b_[16] != static_cast<std::uint8_t>(node_kind::branch))
      return false;
    const std::size_t n = count(), start = load16(b_ + 20);
    if (node_header + 2 * n > start || start > size_) return false;
    if (kind() == node_kind::branch && n == 0) return false;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = load16(b_ + node_header + 2 * i);
      if (at < start || at + entry_header > size_) return false;
      const std::size_t k = load16(b_ + at), v = load16(b_ + at + 2);
      if (k == 0 || at + entry_header + k + v > size_) return false;
      if (kind() == node_kind::branch) {  // children were written first: no cycle, no forged reference
        if (v != child_value) return false;
        const child c = child_at(i);
        if (c.position >= position || c.lowest > c.position) return false;
      }
    }
    return true;
  }

  node_kind kind() const noexcept { return static_cast<node_kind>(b_[16]); }
  bool leaf() const noexcept { return kind() == node_kind::leaf; }
  std::size_t count() const noexcept { return load16(b_ + 18); }
  std::uint64_t position() const noexcept { return load64(b_ + 8); }

  entry at(std::size_t i) const noexcept {
    const std::uint8_t* e = b_ + load16(b_ + node_header + 2 * i);
    const std::size_t k = load16(e), v = load16(e + 2);
    return {{e + entry_header, k}, {e + entry_header + k, v}};
  }
  std::string_view key(std::size_t i) const noexcept { return as_text(at(i).key); }
  child child_at(std::size_t i) const noexcept {
    const auto v = at(i).value;
    return {load64(v.data()), load64(v.data() + 8)};
  }

  // Asks the CPU for every line a search of this node may read (the offsets and
  // the entries): a binary search's probes are dependent loads, each a miss of
  // its own when the node is not in the CPU's caches; asked at once, the misses
  // overlap.
  // (An asm statement on x86-64: GCC 12 drops __builtin_prefetch loops like
  // these as dead code.)
  void prefetch() const noexcept {
    const std::size_t offsets_end = node_header + 2 * count(), start = load16(b_ + 20);
    for (std::size_t at = 64; at < offsets_end; at += 64) prefetch_line(b_ + at);
    for (std::size_t at = start & ~std::size_t{63}; at < size_; at += 64) prefetch_line(b_ + at);
  }

  // The first entry whose key is not below `key` (count() if none).
  std::size_t lower_bound(std::string_view key) const noexcept {
    std::size_t lo = 0, hi = count();
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (compare_keys(this->key(mid), key) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  // In a branch, the entry whose subtree covers `key`.
  std::size_t child_for(std::string_view key) const noexcept {
    std::size_t lo = 0, hi = count();  // the last entry whose key is <= key
    while (hi - lo > 1) {
      const std::size_t mid = (lo + hi) / 2;
      if (compare_keys(this->key(mid), key) <= 0)
        lo = mid;
      else
        hi = mid;
    }
    return lo;
  }

 private:
  const std::uint8_t* b_;
  std::size_t size_;
};

// Bytes an entry takes in a node, its offset included.
constexpr std::size_t entry_cost(std::size_t key, std::size_t value) noexcept { return 2 + entry_header + key + value; }

// Writes entries in key order into a zeroed block; seal() stamps position and checksum.
class node_builder {
 public:
  node_builder(std::uint8_t* block, std::size_t size, node_kind kind) noexcept : b_(block), size_(size), end_(size) {
    std::memset(b_, 0, size_);
    b_[16] = static_cast<std::uint8_t>(kind);
    store16(b_ + 20, static_cast<std::uint16_t>(size_));
  }
  bool fits(std::size_t key, std::size_t value) const noexcept {
    return node_header + 2 * (n_ + 1) + entry_header + key + value <= end_;
  }
  // The caller checked fits().
  void add(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value) noexcept {
    end_ -= entry_header + key.size() + value.size();
    store16(b_ + end_, static_cast<std::uint16_t>(key.size()));
    store16(b_ + end_ + 2, static_cast<std::uint16_t>(value.size()));
    std::memcpy(b_ + end_ + entry_header, key.data(), key.size());
    if (!value.empty()) std::memcpy(b_ + end_ + entry_header + key.size(), value.data(), value.size());
    store16(b_ + node_header + 2 * n_, static_cast<std::uint16_t>(end_));
    store16(b_ + 18, static_cast<std::uint16_t>(++n_));
    store16(b_ + 20, static_cast<std::uint16_t>(end_));
  }
  std::size_t count() const noexcept { return n_; }

 private:
  std::uint8_t* b_;
  std::size_t size_;
  std::size_t end_;
  std::size_t n_ = 0;
};

// Set a node's position, then its checksum (once its children's positions are final).
inline void seal(std::span<std::uint8_t> block, std::uint64_t position, std::uint64_t id) noexcept {
  store64(block.data() + 8, position);
  store64(block.data(), node_checksum(block, id));
}

// Rewrite a branch entry's child in place (the value keeps its size).
inline void set_child(std::uint8_t* block, std::size_t i, child c) noexcept {
  std::uint8_t* e = block + load16(block + node_header + 2 * i);
  std::uint8_t* v = e + entry_header + load16(e);
  store64(v, c.position);
  store64(v + 8, c.lowest);
}

}  // namespace uni::btree
