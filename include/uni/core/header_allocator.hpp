// uni/core/header_allocator.hpp: small header buffers carved out of pool pages.
//
// A frame's headers (Ethernet + IPv4 + UDP is 42 bytes) do not deserve a 4 KiB
// page each: this hands out slices of one page until it is used up, then takes
// the next. Each slice is a view sharing the page, so the page returns to the
// pool when the last frame that used it is gone (after the device sent it).
#pragma once

#include <cstddef>

#include <uni/core/buffer.hpp>

namespace uni {

class header_allocator {
 public:
  static constexpr std::size_t alignment = 16;

  explicit header_allocator(page_pool& pool) noexcept : pool_(pool) {}

  // A writable view of `n` bytes (n <= page_size), or error::no_buffers.
  // Out of line: one copy for every layer that sends (inlined, it was ~350
  // bytes of IPv4's transmit and as much of TCP's), for a call per frame.
  [[gnu::noinline]] result<view> allocate(std::size_t n) noexcept {
    const std::size_t rounded = (n + alignment - 1) & ~(alignment - 1);
    if (rounded > page_size) return fail(error::too_large);
    if (!page_.page() || used_ + rounded > page_size) {
      auto fresh = pool_.allocate_reserved();
      if (!fresh) return fail(fresh.err());
      page_ = std::move(*fresh);
      used_ = 0;
    }
    view v = page_.tail(used_).head(n);
    used_ += rounded;
    return v;
  }

  // Gives the current page back (e.g. before checking that a pool is full).
  void release() noexcept {
    page_ = view{};
    used_ = 0;
  }

 private:
  page_pool& pool_;
  view page_;
  std::size_t used_ = 0;
};

}  // namespace uni
