// uni/boot/heap.hpp: the bounded heap behind operator new on the Xen target.
//
// A region fixed at start of day, carved by a bump pointer. Small blocks (up to
// 64 KiB with their 16-byte header) are powers of two that return to a free list
// per size class: O(1) both ways, no coalescing. Large blocks (the tables a stack
// sizes at start of day, megabytes) are whole pages, so a 4.1 MiB table costs
// 4.1 MiB, not 8; freed, they wait on one list and are reused first-fit by a
// request that needs at least half of one. The heap serves coroutine frames and
// start-of-day tables, which come back in the sizes they left in, and the packet
// path never allocates. Exhaustion is a null pointer (operator new panics).
#pragma once

#include <cstddef>
#include <cstdint>

namespace uni::boot {

class heap {
 public:
  struct stats {
    std::size_t capacity = 0;
    std::size_t carved = 0;     // bytes taken from the region by the bump pointer
    std::size_t in_use = 0;     // bytes in live blocks (block sizes, headers included)
    std::size_t high_water = 0;
    std::uint64_t allocations = 0;
    std::uint64_t failures = 0;
  };

  void init(void* start, std::size_t size) noexcept {
    auto s = (reinterpret_cast<std::uintptr_t>(start) + 15) & ~std::uintptr_t{15};
    next_ = s;
    end_ = reinterpret_cast<std::uintptr_t>(start) + size;
    stats_ = {};
    stats_.capacity = end_ > s ? end_ - s : 0;
    for (auto& f : free_) f = nullptr;
  }

  // `align` may be up to 4096; larger blocks are over-allocated and indirect.
  void* allocate(std::size_t n, std::size_t align = 16) noexcept {
    if (align <= 16) return plain(n);
    if (n > max_block || align > 4096) return fail();
    void* raw = plain(n + align);
    if (!raw) return nullptr;
    auto p = (reinterpret_cast<std::uintptr_t>(raw) + align - 1) & ~(align - 1);
    if (p == reinterpret_cast<std::uintptr_t>(raw)) p += align;  // room for the indirect header
    auto* h = reinterpret_cast<header*>(p) - 1;
    h->magic = indirect_magic;
    h->cls = 0;
    h->aux = reinterpret_cast<std::uintptr_t>(raw);
    return reinterpret_cast<void*>(p);
  }

  // Returns false for a pointer this heap did not hand out (a bug: the caller panics).
  bool deallocate(void* p) noexcept {
    if (!p) return true;
    auto* h = static_cast<header*>(p) - 1;
    if (h->magic == indirect_magic) return deallocate(reinterpret_cast<void*>(h->aux));
    if (h->magic != block_magic || h->cls > large_class) return false;
    // A small block to its class's list, a large one to the large list: one path.
    h->magic = free_magic;
    auto* f = reinterpret_cast<free_block*>(h);
    f->next = free_[h->cls];
    free_[h->cls] = f;
    stats_.in_use -= h->aux;
    return true;
  }

  const stats& statistics() const noexcept { return stats_; }
  std::size_t available() const noexcept { return end_ - next_; }

 private:
  static constexpr unsigned classes = 17;                  // small blocks: up to 64 KiB
  static constexpr std::uint32_t large_class = classes;    // free_[large_class] is the large blocks' list
  static constexpr std::size_t max_block = std::size_t{1} << 30;
  static constexpr std::uint32_t block_magic = 0x756e6962;     // "unib"
  static constexpr std::uint32_t free_magic = 0x756e6966;      // "unif"
  static constexpr std::uint32_t indirect_magic = 0x756e6969;  // "unii"

  struct header {
    std::uint32_t magic;
    std::uint32_t cls;   // size class, or large_class
    std::uintptr_t aux;  // the block's size; indirect: the block the aligned pointer lives in
  };
  static_assert(sizeof(header) == 16);
  struct free_block {
    header h;
    free_block* next;
  };

  void* fail() noexcept {
    ++stats_.failures;
    return nullptr;
  }

  // A small block is its class's power of two, a large one whole pages; either
  // is taken from its free list first (one loop: a small class's blocks all fit,
  // so the first is taken), else carved.
  void* plain(std::size_t n) noexcept {
    if (n > max_block) return fail();
    std::uint32_t cls = large_class;
    std::size_t size = (n + sizeof(header) + 4095) & ~std::size_t{4095};
    if (n + sizeof(header) <= (std::size_t{1} << (classes - 1))) {
      cls = 5;  // 32-byte minimum: header + a free-list link
      while ((std::size_t{1} << cls) < n + sizeof(header)) ++cls;
      size = std::size_t{1} << cls;
    }
    header* h = nullptr;
    for (free_block** link = &free_[cls]; *link; link = &(*link)->next) {
      const std::size_t have = (*link)->h.aux;
      if (have >= size && have / 2 <= size) {  // a large block: first fit, at most twice the size
        h = &(*link)->h;
        *link = (*link)->next;
        break;
      }
    }
    if (!h) {
      if (end_ - next_ < size) return fail();
      h = reinterpret_cast<header*>(next_);
      next_ += size;
      stats_.carved += size;
      h->aux = size;
    }
    h->magic = block_magic;
    h->cls = cls;
    return account(h, h->aux);
  }

  void* account(header* h, std::size_t size) noexcept {
    ++stats_.allocations;
    stats_.in_use += size;
    if (stats_.in_use > stats_.high_water) stats_.high_water = stats_.in_use;
    return h + 1;
  }

  std::uintptr_t next_ = 0;
  std::uintptr_t end_ = 0;
  free_block* free_[classes + 1] = {};  // a list per small class, then the large blocks' list
  stats stats_;
};

// The one heap of the image (defined in runtime.cpp).
heap& kernel_heap() noexcept;

}  // namespace uni::boot
