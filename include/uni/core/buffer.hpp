// uni/core/buffer.hpp: I/O pages and zero-copy views (the paper's Section 3.4).
//
// Frames live in 4 KiB pages taken from a fixed pool made once at start of day.
// A `view` is (page, pointer, length): slicing it for each header copies nothing,
// copying it shares the page, and when the last view of a page dies the page goes
// back to the pool. Views can also point at memory the pool does not own (static
// read-only data such as an embedded web site); those carry no page and no count.
// Running out of pages is an error value (error::no_buffers), counted, never a crash.
// A reserve of pages is kept from ordinary allocations for the network stack's
// own traffic (headers, ACKs, received frames), so applications that fill the
// pool with writes cannot stop the ACKs that would free it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>

#include <uni/core/panic.hpp>
#include <uni/core/result.hpp>

namespace uni {

inline constexpr std::size_t page_size = 4096;

class page_pool;

// Bookkeeping for one page, kept outside the page so the page itself is a whole,
// aligned 4 KiB that a device (or a Xen grant) can own.
struct page_meta {
  std::uint32_t refs = 0;
  std::uint32_t index = 0;  // position in the pool, for drivers (grant refs, DMA maps)
  page_meta* next_free = nullptr;
  page_pool* pool = nullptr;
  std::uint8_t* data = nullptr;
  // Set by a device for the frame it put in this page: its transport checksum
  // was verified, or need not be (the frame came from the host's own stack
  // and crossed no wire). Protocols then skip their check. Cleared on allocation.
  bool checksum_verified = false;
};

class view;

class page_pool {
 public:
  struct stats {
    std::size_t capacity = 0;
    std::size_t in_use = 0;
    std::size_t high_water = 0;
    std::uint64_t allocations = 0;
    std::uint64_t exhausted = 0;  // allocations refused because no page was free
    std::uint64_t held_back = 0;  // ordinary allocations refused because only the reserve was free
  };

  // `memory` must be page_size-aligned and hold pages * page_size bytes;
  // `meta` holds one page_meta per page. Both outlive the pool.
  page_pool(std::span<std::uint8_t> memory, std::span<page_meta> meta) noexcept {
    if (reinterpret_cast<std::uintptr_t>(memory.data()) % page_size != 0)
      panic("page_pool: memory not page aligned");
    std::size_t n = memory.size() / page_size;
    if (meta.size() < n) n = meta.size();
    stats_.capacity = n;
    for (std::size_t i = n; i-- > 0;) {
      page_meta& m = meta[i];
      m = page_meta{0, static_cast<std::uint32_t>(i), free_, this, memory.data() + i * page_size};
      free_ = &m;
    }
    meta_ = meta.first(n);
  }
  page_pool(const page_pool&) = delete;
  page_pool& operator=(const page_pool&) = delete;
  ~page_pool() {
    if (stats_.in_use != 0) panic("page_pool destroyed with ", stats_.in_use, " pages in use");
  }

  // A whole fresh page as a writable view, or error::no_buffers: for applications
  // (and anything that holds pages at a peer's pace), which may not take the reserve.
  result<view> allocate() noexcept;
  // The same, down to the last page: for the network stack's own frames, whose
  // sending or receiving is what frees pages (headers and ACKs, device receive
  // pages, a simulated wire's copies).
  result<view> allocate_reserved() noexcept;

  // Keeps `pages` from ordinary allocations (the largest asked for wins), at most
  // half the pool, so a small pool (a test's) still serves applications.
  void reserve(std::size_t pages) noexcept {
    if (pages > stats_.capacity / 2) pages = stats_.capacity / 2;
    if (pages > reserve_) reserve_ = pages;
  }
  std::size_t reserved() const noexcept { return reserve_; }

  const stats& statistics() const noexcept { return stats_; }
  std::size_t available() const noexcept { return stats_.capacity - stats_.in_use; }
  std::span<page_meta> pages() noexcept { return meta_; }

 private:
  friend class view;
  void release(page_meta* m) noexcept {
    m->next_free = free_;
    free_ = m;
    --stats_.in_use;
  }

  page_meta* free_ = nullptr;
  std::span<page_meta> meta_;
  stats stats_;
  std::size_t reserve_ = 0;
};

namespace detail {
template <std::size_t Pages>
struct page_pool_storage {
  struct alignas(page_size) page_bytes {
    std::uint8_t bytes[page_size];
  };
  page_bytes pages_[Pages];
  page_meta meta_[Pages];
};
}  // namespace detail

// A pool that owns its storage: `uni::static_page_pool<256> pool;`. The storage
// is a base declared first, so it is constructed before the pool threads it.
template <std::size_t Pages>
class static_page_pool : private detail::page_pool_storage<Pages>, public page_pool {
  using storage = detail::page_pool_storage<Pages>;

 public:
  static_page_pool() noexcept
      : page_pool({reinterpret_cast<std::uint8_t*>(storage::pages_), Pages * page_size}, {storage::meta_, Pages}) {}
};

class view {
 public:
  view() noexcept = default;

  // A view of memory the pool does not own (static data, or a caller's buffer that
  // outlives every use of the view).
  static view unowned(std::span<std::uint8_t> bytes) noexcept { return view{nullptr, bytes.data(), bytes.size()}; }
  static view unowned(std::span<const std::uint8_t> bytes) noexcept {
    return view{nullptr, const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  }

  view(const view& o) noexcept : page_(o.page_), data_(o.data_), size_(o.size_) { acquire(); }
  view(view&& o) noexcept : page_(o.page_), data_(o.data_), size_(o.size_) {
    o.page_ = nullptr;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  view& operator=(const view& o) noexcept {
    if (this != &o) {
      view tmp(o);
      swap(tmp);
    }
    return *this;
  }
  view& operator=(view&& o) noexcept {
    if (this != &o) {
      view tmp(std::move(o));
      swap(tmp);
    }
    return *this;
  }
  ~view() { release(); }

  void swap(view& o) noexcept {
    std::swap(page_, o.page_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }

  std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<std::uint8_t> bytes() const noexcept { return {data_, size_}; }
  // The device's word on the frame in this view's page (page_meta::checksum_verified).
  bool checksum_verified() const noexcept { return page_ && page_->checksum_verified; }
  void mark_checksum_verified() const noexcept {
    if (page_) page_->checksum_verified = true;
  }
  std::uint8_t& operator[](std::size_t i) const noexcept { return data_[i]; }

  // Sub-view [offset, offset + length), sharing the page. Out of range is an error.
  result<view> slice(std::size_t offset, std::size_t length) const noexcept {
    if (offset > size_ || length > size_ - offset) return fail(error::truncated);
    return view{page_, data_ + offset, length, shared};
  }
  // Everything from `offset` on (clamped: past the end gives an empty view).
  // Out of line, as head() below.
  [[gnu::noinline]] view tail(std::size_t offset) const noexcept {
    if (offset > size_) offset = size_;
    return view{page_, data_ + offset, size_ - offset, shared};
  }
  // The first `length` bytes (clamped). Out of line: GCC inlines it into every
  // caller once they are few enough, at ~20 bytes each.
  [[gnu::noinline]] view head(std::size_t length) const noexcept {
    if (length > size_) length = size_;
    return view{page_, data_, length, shared};
  }
  // In-place trimming, for parsers that peel headers off a view they own.
  void drop_front(std::size_t n) noexcept {
    if (n > size_) n = size_;
    data_ += n;
    size_ -= n;
  }
  void truncate(std::size_t n) noexcept {
    if (n < size_) size_ = n;
  }

  // Room in the page before and after this view: lets a sender prepend headers
  // in front of a payload it built in the same page, without copying.
  std::size_t headroom() const noexcept { return page_ ? static_cast<std::size_t>(data_ - page_->data) : 0; }
  std::size_t tailroom() const noexcept {
    return page_ ? static_cast<std::size_t>(page_->data + page_size - (data_ + size_)) : 0;
  }
  // Grow the view towards the front (into headroom) or back (into tailroom).
  result<void> push_front(std::size_t n) noexcept {
    if (n > headroom()) return fail(error::too_large);
    data_ -= n;
    size_ += n;
    return {};
  }
  result<void> extend(std::size_t n) noexcept {
    if (n > tailroom()) return fail(error::too_large);
    size_ += n;
    return {};
  }

  // The page this view shares (null for unowned views) and its share count.
  const page_meta* page() const noexcept { return page_; }
  std::uint32_t use_count() const noexcept { return page_ ? page_->refs : 0; }

 private:
  friend class page_pool;
  struct shared_t {};
  static constexpr shared_t shared{};

  // Takes over a fresh reference (pool allocation) or none (unowned).
  view(page_meta* p, std::uint8_t* d, std::size_t n) noexcept : page_(p), data_(d), size_(n) {}
  // Shares an existing reference.
  view(page_meta* p, std::uint8_t* d, std::size_t n, shared_t) noexcept : page_(p), data_(d), size_(n) { acquire(); }

  void acquire() const noexcept {
    if (page_) ++page_->refs;
  }
  void release() noexcept {
    if (page_ && --page_->refs == 0) page_->pool->release(page_);
    page_ = nullptr;
  }

  page_meta* page_ = nullptr;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

inline result<view> page_pool::allocate() noexcept {
  if (available() <= reserve_ && free_) {
    ++stats_.held_back;
    return fail(error::no_buffers);
  }
  return allocate_reserved();
}

inline result<view> page_pool::allocate_reserved() noexcept {
  if (!free_) {
    ++stats_.exhausted;
    return fail(error::no_buffers);
  }
  page_meta* m = free_;
  free_ = m->next_free;
  m->next_free = nullptr;
  m->refs = 1;
  m->checksum_verified = false;
  ++stats_.allocations;
  if (++stats_.in_use > stats_.high_water) stats_.high_water = stats_.in_use;
  return view{m, m->data, page_size};
}

// Total length of a fragment list.
inline std::size_t total_size(std::span<const view> frags) noexcept {
  std::size_t n = 0;
  for (const view& v : frags) n += v.size();
  return n;
}

// Copies a fragment list into `out` (which must be large enough); returns bytes written.
inline std::size_t gather(std::span<const view> frags, std::span<std::uint8_t> out) noexcept {
  std::size_t at = 0;
  for (const view& v : frags) {
    std::size_t n = v.size() < out.size() - at ? v.size() : out.size() - at;
    if (n) std::memcpy(out.data() + at, v.data(), n);
    at += n;
  }
  return at;
}

}  // namespace uni
