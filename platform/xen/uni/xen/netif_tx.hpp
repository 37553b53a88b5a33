// uni/xen/netif_tx.hpp: the TX slots of a netfront frame, sans I/O
// (xen/io/netif.h, "Guest transmit"): a frame goes to netback as a list of
// slots, each a piece of one granted page; feature-sg lets a frame take
// several. Netfront counts them before it sends (a frame netback must take
// has at most XEN_NETIF_NR_SLOTS_MIN) and then fills one request per slot.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/core/buffer.hpp>

namespace uni::xen {

// The TX slots a frame's fragments take past their first `skip` bytes, one at
// a time: a slot per piece of a fragment within one page, pieces that follow
// each other in one page joined into one slot.
class netif_tx_slots {
 public:
  struct piece {
    std::uintptr_t address = 0;
    std::size_t size = 0;
    const view* frag = nullptr;  // the fragment holding its first byte
  };

  netif_tx_slots(std::span<const view> frags, std::size_t skip) noexcept : frags_(frags), skip_(skip) {}

  // The next slot's piece; false past the last.
  bool next(piece& p) noexcept {
    if (!load()) return false;
    p = {at_, 0, &frags_[next_ - 1]};
    for (;;) {
      const std::size_t n = std::min(left_, std::size_t{4096} - (at_ & 4095));
      p.size += n;
      at_ += n;
      left_ -= n;
      if ((at_ & 4095) == 0) return true;  // the page ends here
      const std::uintptr_t end = at_;
      if (!load() || at_ != end) return true;  // the next fragment does not follow on in this page
    }
  }

 private:
  // Moves on to the next fragment with bytes (past `skip_`), unless the current one has some left.
  bool load() noexcept {
    while (left_ == 0) {
      if (next_ == frags_.size()) return false;
      const view& f = frags_[next_++];
      const std::size_t skipped = std::min(skip_, f.size());
      skip_ -= skipped;
      at_ = reinterpret_cast<std::uintptr_t>(f.data()) + skipped;
      left_ = f.size() - skipped;
    }
    return true;
  }

  std::span<const view> frags_;
  std::size_t skip_;
  std::size_t next_ = 0;   // the fragment after the current one
  std::uintptr_t at_ = 0;  // the current fragment's next byte
  std::size_t left_ = 0;   // and how many follow it
};

}  // namespace uni::xen
