// uni/posix/huge_page_pool.hpp: huge_page_pool<Pages>, an I/O page pool whose
// pages lie in transparent huge pages (2 MiB) where the kernel gives them.
//
// Why: a direct read or write into registered memory (UringDisk::register_memory)
// reaches the device as one DMA segment per physically contiguous run, and the
// kernel maps a huge page as one run. In 4 KiB pages, a 64 KiB read is 16
// segments: a virtio disk without indirect descriptors (Firecracker's: 256
// descriptors, 2 + one per segment a request) then holds only 14 such reads at
// once, so at queue depth 32 the other 18 wait in the guest's I/O scheduler;
// a 1 MiB read (256 segments, more than the queue's 254) is split in two and the
// device holds one at a time. In huge pages, a read of pages taken in a row is
// one segment, and every request of the queue depth is at the device
// (bench/block.sh, /sys/block/*/inflight).
//
// Where the kernel has no huge page to give (THP off, memory fragmented), the
// pages are ordinary ones, and the pool works as static_page_pool does.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/panic.hpp>

namespace uni::posix {

namespace detail {
// The pool's memory: an anonymous mapping aligned to the huge-page size, advised
// to be backed by huge pages; unmapped when the pool goes.
class huge_mapping {
 public:
  static constexpr std::size_t huge_page = 2 << 20;

  explicit huge_mapping(std::size_t pages) : page_meta_(std::make_unique<page_meta[]>(pages)) {
    const std::size_t bytes = pages * page_size;
    // Map one huge page more and trim, so the pages start on a 2 MiB boundary.
    const std::size_t mapped = bytes + huge_page;
    void* at = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (at == MAP_FAILED) panic("huge_page_pool: cannot map ", bytes, " bytes");
    const auto start = reinterpret_cast<std::uintptr_t>(at);
    const std::uintptr_t aligned = (start + huge_page - 1) & ~(std::uintptr_t{huge_page} - 1);
    if (aligned > start) ::munmap(at, aligned - start);
    if (const std::uintptr_t end = aligned + bytes, mapped_end = start + mapped; mapped_end > end)
      ::munmap(reinterpret_cast<void*>(end), mapped_end - end);
    (void)::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // advice: refused is fine
    bytes_ = {reinterpret_cast<std::uint8_t*>(aligned), bytes};
  }
  huge_mapping(const huge_mapping&) = delete;
  huge_mapping& operator=(const huge_mapping&) = delete;
  ~huge_mapping() { ::munmap(bytes_.data(), bytes_.size()); }

 protected:
  std::span<std::uint8_t> bytes_;
  std::unique_ptr<page_meta[]> page_meta_;
};
}  // namespace detail

// The mapping is a base declared first, so it exists before the pool threads it.
template <std::size_t Pages>
class huge_page_pool : private detail::huge_mapping, public page_pool {
 public:
  huge_page_pool() : detail::huge_mapping(Pages), page_pool(bytes_, {page_meta_.get(), Pages}) {}
};

}  // namespace uni::posix
