// uni/fs/fat32/fat_cache.hpp: the file allocation table, read and written
// through a bounded cache: `Slots` I/O pages, each holding one page-sized window
// of the FAT, least recently used out first. Memory is fixed at start (the pages
// are taken from the pool once); reading a chain never builds a list. A changed
// entry marks its sector dirty; write_back() (at the end of every operation, or
// when a dirty window is evicted) writes the dirty sectors to every FAT copy
// (or only the active one when mirroring is off, fatgen103 §3.3 BPB_ExtFlags).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/block/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/fs/fat32/wire.hpp>

namespace uni::fs::fat32 {

template <BlockDevice D, std::size_t Slots>
class fat_cache {
  static_assert(Slots >= 1, "the FAT cache needs a page");

 public:
  struct stats {
    std::uint64_t hits = 0, misses = 0, sector_writes = 0;
  };

  // Takes the cache's pages from `pool`: error::no_buffers if it has too few.
  result<void> attach(D& dev, page_pool& pool, const geometry& g) noexcept {
    dev_ = &dev;
    g_ = g;
    sectors_per_window_ = static_cast<std::uint32_t>(page_size / g.sector_size);
    for (slot& s : slots_) {
      auto p = pool.allocate();
      if (!p) return fail(p.err());
      s = slot{std::move(*p), no_window, 0, 0};
    }
    return {};
  }

  // Cluster `c`'s entry (28 bits). `c` must have an entry in the FAT.
  task<result<std::uint32_t>> get(std::uint32_t c) {
    auto s = co_await window_of(c);
    if (!s) co_return fail(s.err());
    co_return load_le32(entry_in(**s, c)) & fat_entry::mask;
  }

  // Sets cluster `c`'s entry, keeping the top four bits as §4 asks.
  task<result<void>> set(std::uint32_t c, std::uint32_t value) {
    auto s = co_await window_of(c);
    if (!s) co_return fail(s.err());
    std::uint8_t* p = entry_in(**s, c);
    store_le32(p, (load_le32(p) & ~fat_entry::mask) | (value & fat_entry::mask));
    (*s)->dirty |= static_cast<std::uint8_t>(1u << (c * 4 % page_size / g_.sector_size));
    co_return result<void>{};
  }

  // Writes every dirty sector to the FAT copies.
  task<result<void>> write_back() {
    for (slot& s : slots_) {
      auto r = co_await clean(s);
      if (!r) co_return r;
    }
    co_return result<void>{};
  }

  const stats& statistics() const noexcept { return stats_; }

 private:
  static constexpr std::uint32_t no_window = 0xFFFFFFFF;
  struct slot {
    view page;
    std::uint32_t window = no_window;  // FAT byte offset / page_size
    std::uint8_t dirty = 0;            // one bit a sector of the window
    std::uint64_t used = 0;
  };

  std::uint8_t* entry_in(const slot& s, std::uint32_t c) const noexcept { return s.page.data() + c * 4 % page_size; }

  // The window's first sector within one FAT, and how many of its sectors the FAT has.
  std::uint32_t window_first(std::uint32_t w) const noexcept { return w * sectors_per_window_; }
  std::uint32_t window_sectors(std::uint32_t w) const noexcept {
    const std::uint32_t left = g_.fat_sectors - window_first(w);
    return left < sectors_per_window_ ? left : sectors_per_window_;
  }

  task<result<slot*>> window_of(std::uint32_t c) {
    if (!g_.valid_cluster(c)) co_return fail(error::corrupt);  // callers check; this is the last guard
    const std::uint32_t w = static_cast<std::uint32_t>(std::uint64_t{c} * 4 / page_size);
    ++tick_;
    slot* victim = &slots_[0];
    for (slot& s : slots_) {
      if (s.window == w) {
        s.used = tick_;
        ++stats_.hits;
        co_return &s;
      }
      if (s.used < victim->used) victim = &s;
    }
    ++stats_.misses;
    auto r = co_await clean(*victim);
    if (!r) co_return fail(r.err());
    victim->window = no_window;
    const view into = victim->page.head(window_sectors(w) * g_.sector_size);
    const std::uint64_t first = g_.reserved_sectors + std::uint64_t{g_.active_fat} * g_.fat_sectors + window_first(w);
    auto rd = co_await dev_->read(first, std::span<const view>(&into, 1));
    if (!rd) co_return fail(rd.err());
    victim->window = w;
    victim->used = tick_;
    co_return victim;
  }

  task<result<void>> clean(slot& s) {
    for (std::uint32_t i = 0; s.dirty != 0 && i < sectors_per_window_; ++i) {
      if (!(s.dirty & (1u << i))) continue;
      auto sector = s.page.slice(i * g_.sector_size, g_.sector_size);
      if (!sector) co_return fail(sector.err());
      for (std::uint32_t copy = 0; copy < g_.fat_count; ++copy) {
        if (!g_.mirrored && copy != g_.active_fat) continue;
        const std::uint64_t at = g_.reserved_sectors + std::uint64_t{copy} * g_.fat_sectors + window_first(s.window) + i;
        auto w = co_await dev_->write(at, std::span<const view>(&*sector, 1));
        if (!w) co_return w;
        ++stats_.sector_writes;
      }
      s.dirty = static_cast<std::uint8_t>(s.dirty & ~(1u << i));
    }
    co_return result<void>{};
  }

  D* dev_ = nullptr;
  geometry g_;
  std::uint32_t sectors_per_window_ = 1;
  std::array<slot, Slots> slots_{};
  std::uint64_t tick_ = 0;
  stats stats_;
};

}  // namespace uni::fs::fat32
