// uni/memcache/store.hpp: the cache behind the memcached protocol, in memory
// bounded by a byte budget fixed at start (memcached's doc/protocol.txt and
// its slab design: no allocation after construction).
//
// The budget is cut into slab pages; each page serves one size class of
// chunks (classes grow by a factor of 1.25 up to the page size), and an item
// (header, key, value with its "\r\n") lives in one chunk. When a class has
// no free chunk and no page is left, its least recently used item is evicted;
// reads only mark an item, and a marked one at the tail moves to the front
// once instead (a second chance, as memcached's active items get).
// Items expire lazily (a lookup that finds one past its time frees it) and
// periodically (reclaim() walks each class's LRU tail). A reader may pin an
// item while its bytes are copied out: a pinned item is never reused, and one
// unlinked while pinned (deleted, replaced, flushed) is freed at the last unpin.
//
// Time is Unix seconds passed in by the caller; expiry times follow memcached:
// 0 never, up to 30 days relative to now, beyond that an absolute Unix time,
// negative already expired.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>
#include <utility>

namespace uni::memcache {

inline constexpr std::size_t max_key_length = 250;                    // protocol.txt: "Keys"
inline constexpr std::int64_t relative_expiry_limit = 60 * 60 * 24 * 30;  // 30 days
// memcached's own accounting of an item's size (header, CAS, key and its NUL,
// value and "\r\n"), so "object too large" falls where it does for memcached.
inline constexpr std::size_t memcached_item_overhead = 48 + 8 + 1 + 2;

struct store_limits {
  std::size_t memory = 64u << 20;    // the byte budget (memcached -m)
  std::size_t item_max = 1u << 20;   // largest item, memcached's accounting (-I)
};

// What the meta commands (mg h, X, W, Z; ms b) see of an item, as memcached's item flags.
namespace item_state {
inline constexpr std::uint8_t fetched = 1;     // read since stored
inline constexpr std::uint8_t stale = 2;       // marked by md I: served, flagged X
inline constexpr std::uint8_t token_sent = 4;  // a client was told W (it won the recache)
inline constexpr std::uint8_t binary_key = 8;  // stored with mg/ms b: key shown in base64
inline constexpr std::uint8_t active = 16;     // read since it last moved in its LRU (second chance)
}  // namespace item_state

// memcached refreshes an item's access time at most once a minute.
inline constexpr std::int64_t access_update_interval = 60;

struct item {
  item* prev;   // LRU: towards the most recently used
  item* next;   // LRU: towards the least recently used
  item* hnext;  // hash chain
  std::int64_t exptime;  // Unix seconds; 0: never
  std::int64_t time;     // last stored or fetched, Unix seconds (flush_all with a delay)
  std::uint64_t cas;
  std::uint32_t flags;
  std::uint32_t nbytes;  // value bytes, "\r\n" included
  std::uint16_t pins;
  std::uint8_t nkey;
  std::uint8_t cls;
  bool linked;           // in the hash table and its class's LRU
  std::uint8_t state;    // item_state bits (the meta commands' view of an item)

  char* key() noexcept { return reinterpret_cast<char*>(this + 1); }
  std::string_view key_view() noexcept { return {key(), nkey}; }
  std::uint8_t* data() noexcept { return reinterpret_cast<std::uint8_t*>(key() + nkey); }
  std::size_t value_size() const noexcept { return nbytes - 2; }
};

struct store_counters {
  std::uint64_t evictions = 0;
  std::uint64_t expired = 0;       // reclaimed after their time (lazily or by reclaim())
  std::uint64_t flushed = 0;       // reclaimed after a flush_all
  std::uint64_t total_items = 0;   // items ever stored
  std::uint64_t out_of_memory = 0; // allocations refused
  std::uint64_t expired_unfetched = 0, evicted_unfetched = 0;  // never read before they went
};

class store {
 public:
  static constexpr std::size_t smallest_chunk = 96;
  static constexpr std::size_t max_classes = 64;
  static constexpr double growth = 1.25;
  static constexpr int max_second_chances = 64;  // recently read items moved aside per eviction, at most

  // The memory is taken here, once, without throwing (std::nothrow_t{}: the
  // Xen runtime has the operator but not the std::nothrow object): a budget
  // the machine cannot give leaves the store empty (capacity() == 0).
  explicit store(store_limits limits) noexcept : limits_(limits) {
    page_size_ = largest_item() + sizeof(item) + max_key_length + 8;
    if (page_size_ < (1u << 20)) page_size_ = 1u << 20;
    page_size_ = (page_size_ + alignof(item) - 1) & ~(alignof(item) - 1);  // every page, so every chunk, aligned
    pages_total_ = limits.memory / page_size_;
    if (pages_total_ == 0) pages_total_ = 1;  // memcached too keeps a page per class at least
    arena_.reset(new (std::nothrow_t{}) std::uint8_t[pages_total_ * page_size_]);
    if (!arena_) pages_total_ = 0;
    buckets_n_ = 1024;
    while (buckets_n_ < pages_total_ * page_size_ / 256 && buckets_n_ < (1u << 24)) buckets_n_ <<= 1;
    buckets_.reset(new (std::nothrow_t{}) item*[buckets_n_]());
    if (!buckets_) pages_total_ = 0;
    std::size_t size = smallest_chunk;
    while (classes_n_ < max_classes - 1 && size < page_size_ / 2) {
      classes_[classes_n_++].chunk = size;
      size = (static_cast<std::size_t>(static_cast<double>(size) * growth) + 7) & ~std::size_t{7};
    }
    classes_[classes_n_++].chunk = page_size_;
  }
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  const store_limits& limits() const noexcept { return limits_; }
  std::size_t capacity() const noexcept { return pages_total_ * page_size_; }
  // Largest value (without "\r\n") memcached's accounting admits for a key of nkey bytes.
  std::size_t largest_item() const noexcept { return limits_.item_max; }
  bool too_large(std::size_t nkey, std::size_t value_size) const noexcept {
    return memcached_item_overhead + nkey + value_size > limits_.item_max;
  }

  // A fresh, unlinked item for the key, pinned once, with room for value_size
  // bytes and "\r\n"; nullptr when too large or memory is exhausted.
  item* allocate(std::string_view key, std::uint32_t flags, std::int64_t exptime, std::size_t value_size,
                 std::int64_t now) noexcept {
    if (key.size() > max_key_length || too_large(key.size(), value_size)) return nullptr;
    const std::size_t total = sizeof(item) + key.size() + value_size + 2;
    const int c = class_for(total);
    if (c < 0) return nullptr;
    item* it = take_chunk(static_cast<std::size_t>(c), now);
    if (!it) {
      ++counters_.out_of_memory;
      ++classes_[static_cast<std::size_t>(c)].out_of_memory;
      return nullptr;
    }
    *it = item{nullptr, nullptr, nullptr, exptime, now, 0, flags, static_cast<std::uint32_t>(value_size + 2),
               1, static_cast<std::uint8_t>(key.size()), static_cast<std::uint8_t>(c), false, 0};
    std::memcpy(it->key(), key.data(), key.size());
    return it;
  }

  // The live item for the key (expired or flushed ones are freed on the way),
  // marked recently used unless !bump_lru (mg u); nullptr if none.
  item* find(std::string_view key, std::int64_t now, bool bump_lru = true) noexcept {
    item** at = slot(key);
    while (*at && (*at)->key_view() != key) at = &(*at)->hnext;
    item* it = *at;
    if (!it) return nullptr;
    if (!live(it, now)) {
      count_dead(it, now);
      unlink(it);
      return nullptr;
    }
    if (bump_lru) bump(it);
    return it;
  }

  // Puts an allocated item in place of any item under its key, with a new CAS
  // unique; the caller's pin stays (release() it).
  void link(item* it, std::int64_t now) noexcept {
    item** const head = slot(it->key_view());
    item** at = head;
    while (*at && (*at)->key_view() != it->key_view()) at = &(*at)->hnext;
    if (*at) unlink(*at);
    it->cas = ++last_cas_;
    it->time = now;
    it->linked = true;
    it->hnext = *head;
    *head = it;
    lru_push(it);
    auto& k = classes_[it->cls];
    ++k.items;
    k.requested += sizeof(item) + it->nkey + it->nbytes;
    ++items_;
    bytes_ += it->nbytes + it->nkey;
    ++counters_.total_items;
  }

  // Removes a linked item; its chunk is freed once no reader holds it.
  void unlink(item* it) noexcept {
    if (!it->linked) return;
    item** at = slot(it->key_view());
    while (*at != it) at = &(*at)->hnext;
    *at = it->hnext;
    lru_remove(it);
    it->linked = false;
    --classes_[it->cls].items;
    classes_[it->cls].requested -= sizeof(item) + it->nkey + it->nbytes;
    --items_;
    bytes_ -= it->nbytes + it->nkey;
    if (it->pins == 0) free_chunk(it);
  }

  // A client read the item: memcached's bump (fetched, and the access time
  // moved once a minute at most).
  void fetched(item* it, std::int64_t now) noexcept {
    it->state |= item_state::fetched;
    if (now - it->time >= access_update_interval) it->time = now;
  }

  void pin(item* it) noexcept { ++it->pins; }
  void release(item* it) noexcept {
    if (--it->pins == 0 && !it->linked) free_chunk(it);
  }

  // A new CAS unique for an item changed in place (incr, decr).
  void touch_cas(item* it) noexcept { it->cas = ++last_cas_; }

  // flush_all: with no delay (at <= now) every item stored so far, this second
  // included. With one, as memcached: from the second before `at`, every item
  // stored up to that second.
  void flush(std::int64_t at, std::int64_t now) noexcept {
    if (at <= now) {
      flush_cas_ = last_cas_;
      flush_time_ = 0;
    } else {
      flush_time_ = at - 1;
    }
  }

  // Frees up to `budget` expired or flushed items from the LRU tails; returns how many.
  std::size_t reclaim(std::int64_t now, std::size_t budget) noexcept {
    std::size_t freed = 0;
    for (std::size_t c = 0; c < classes_n_; ++c) {
      item* it = classes_[c].tail;
      for (std::size_t seen = 0; it && seen < budget; ++seen) {
        item* prev = it->prev;
        if (!live(it, now) && it->pins == 0) {
          count_dead(it, now);
          unlink(it);
          ++freed;
        }
        it = prev;
      }
    }
    return freed;
  }

  struct class_info {
    std::size_t chunk = 0;
    std::size_t pages = 0;
    std::size_t items = 0;   // linked
    std::size_t used = 0;    // chunks handed out (linked, being filled or pinned)
    std::uint64_t evicted = 0, evicted_nonzero = 0, out_of_memory = 0, reclaimed = 0;
    std::int64_t evicted_time = 0;  // seconds the last evicted item had not been touched
    std::size_t requested = 0;      // bytes of the linked items, headers included
    item* head = nullptr;    // most recently used
    item* tail = nullptr;    // least
    item* free = nullptr;
    std::size_t carved = 0;  // chunks cut from the newest page so far
    std::uint8_t* page = nullptr;
  };
  std::span<const class_info> classes() const noexcept { return {classes_, classes_n_}; }
  std::size_t items() const noexcept { return items_; }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t pages_used() const noexcept { return pages_used_; }
  std::size_t page_size() const noexcept { return page_size_; }
  std::size_t buckets() const noexcept { return buckets_n_; }
  const store_counters& counters() const noexcept { return counters_; }

  bool live(const item* it, std::int64_t now) const noexcept {
    return !(it->exptime != 0 && it->exptime <= now) && !is_flushed(it, now);
  }

 private:
  void count_dead(const item* it, std::int64_t now) noexcept {
    if (is_flushed(it, now)) return ++counters_.flushed, void();
    ++counters_.expired;
    ++classes_[it->cls].reclaimed;
    if (!(it->state & item_state::fetched)) ++counters_.expired_unfetched;
  }

  bool is_flushed(const item* it, std::int64_t now) const noexcept {
    if (it->cas <= flush_cas_) return true;
    return flush_time_ != 0 && flush_time_ <= now && it->time <= flush_time_;
  }

  int class_for(std::size_t total) const noexcept {
    for (std::size_t c = 0; c < classes_n_; ++c)
      if (classes_[c].chunk >= total) return static_cast<int>(c);
    return -1;
  }

  item* take_chunk(std::size_t c, std::int64_t now) noexcept {
    class_info& k = classes_[c];
    if (k.free) {
      item* it = std::exchange(k.free, k.free->next);
      ++k.used;
      return it;
    }
    if (k.page && k.carved < page_size_ / k.chunk) {
      ++k.used;
      return reinterpret_cast<item*>(k.page + k.chunk * k.carved++);
    }
    if (pages_used_ < pages_total_) {
      k.page = arena_.get() + page_size_ * pages_used_++;
      ++k.pages;
      k.carved = 1;
      ++k.used;
      return reinterpret_cast<item*>(k.page);
    }
    // Evict: the least recently used unpinned item (a few tries, as memcached);
    // one read since it last moved goes to the front instead, once.
    item* it = k.tail;
    for (int tries = 0, moved = 0; it && tries < 5;) {
      item* const prev = it->prev;
      if (it->pins != 0) {
        ++tries;
        it = prev;
        continue;
      }
      if ((it->state & item_state::active) && moved++ < max_second_chances) {
        it->state &= static_cast<std::uint8_t>(~item_state::active);
        lru_remove(it);
        lru_push(it);
        it = prev ? prev : k.tail;  // it was the only one: now unmarked at the tail
        continue;
      }
      if (live(it, now)) {
        ++counters_.evictions;
        ++k.evicted;
        if (it->exptime != 0) ++k.evicted_nonzero;
        if (!(it->state & item_state::fetched)) ++counters_.evicted_unfetched;
        k.evicted_time = now - it->time;
      } else {
        count_dead(it, now);
      }
      unlink(it);
      return take_chunk(c, now);
    }
    return nullptr;
  }

  void free_chunk(item* it) noexcept {
    class_info& k = classes_[it->cls];
    it->next = k.free;
    k.free = it;
    --k.used;
  }

  void lru_push(item* it) noexcept {
    class_info& k = classes_[it->cls];
    it->prev = nullptr;
    it->next = k.head;
    if (k.head) k.head->prev = it;
    k.head = it;
    if (!k.tail) k.tail = it;
  }
  void lru_remove(item* it) noexcept {
    class_info& k = classes_[it->cls];
    if (it->prev) it->prev->next = it->next; else k.head = it->next;
    if (it->next) it->next->prev = it->prev; else k.tail = it->prev;
    it->prev = it->next = nullptr;
  }
  // A read only marks the item: moving it to the front would touch its two
  // neighbours, two cache misses on every get. Eviction gives a marked item
  // a second chance instead (memcached's active flag does the same).
  static void bump(item* it) noexcept { it->state |= item_state::active; }

  // Eight bytes a step (keys are often 30 to 250 bytes): multiply and fold.
  item** slot(std::string_view key) noexcept {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
    std::uint64_t h = key.size() * k;
    std::size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, key.data() + i, 8);
      h = (h ^ w) * k;
      h ^= h >> 29;
    }
    std::uint64_t w = 0;
    std::memcpy(&w, key.data() + i, key.size() - i);
    h = (h ^ w) * k;
    h ^= h >> 32;
    return &buckets_[h & (buckets_n_ - 1)];
  }

  store_limits limits_;
  std::size_t page_size_ = 0;
  std::size_t pages_total_ = 0;
  std::size_t pages_used_ = 0;
  std::unique_ptr<std::uint8_t[]> arena_;
  std::unique_ptr<item*[]> buckets_;
  std::size_t buckets_n_ = 0;
  class_info classes_[max_classes];
  std::size_t classes_n_ = 0;
  std::size_t items_ = 0;
  std::size_t bytes_ = 0;
  std::uint64_t last_cas_ = 0;
  std::uint64_t flush_cas_ = 0;
  std::int64_t flush_time_ = 0;
  store_counters counters_;
};

}  // namespace uni::memcache
