// uni/net/tcp/scoreboard.hpp: the sender's record of what the peer has
// selectively acknowledged (RFC 6675 §3, RFC 2018): a bounded, sorted set of
// disjoint ranges above SND.UNA. Loss recovery asks it for the holes to send
// again and for how many bytes are still in the network (the "pipe").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <uni/net/tcp/segment.hpp>
#include <uni/net/tcp/seq.hpp>

namespace uni::tcp {

template <std::size_t Capacity = 8>
class scoreboard {
 public:
  bool empty() const noexcept { return count_ == 0; }
  void clear() noexcept { count_ = 0; }

  // Records a block the peer reported. Blocks outside (una, max] are ignored
  // (stale, D-SACK, or forged). Returns true when it covered bytes not known before.
  bool add(sack_block b, seq32 una, seq32 max) noexcept {
    if (!(una < b.right && b.left < b.right && b.right <= max)) return false;
    if (b.left < una) b.left = una;
    const std::uint32_t before = sacked_bytes();
    std::size_t i = 0;
    while (i < count_ && r_[i].right < b.left) ++i;  // first range touching or after b
    std::size_t j = i;
    while (j < count_ && r_[j].left <= b.right) {      // ranges b overlaps or touches: merged into b
      b.left = min(b.left, r_[j].left);
      b.right = tcp::max(b.right, r_[j].right);
      ++j;
    }
    const std::size_t merged = j - i;
    if (merged == 0) {
      if (count_ == Capacity) {
        if (i == count_) return false;  // full: the highest ranges matter least
        --count_;
      }
      for (std::size_t k = count_; k > i; --k) r_[k] = r_[k - 1];
      ++count_;
    } else {
      for (std::size_t k = j; k < count_; ++k) r_[k - merged + 1] = r_[k];
      count_ -= merged - 1;
    }
    r_[i] = b;
    return sacked_bytes() > before;
  }

  // Forgets what the cumulative ACK now covers.
  void advance(seq32 una) noexcept {
    std::size_t drop = 0;
    while (drop < count_ && r_[drop].right <= una) ++drop;
    for (std::size_t k = drop; k < count_; ++k) r_[k - drop] = r_[k];
    count_ -= drop;
    if (count_ > 0 && r_[0].left < una) r_[0].left = una;
  }

  std::uint32_t sacked_bytes() const noexcept {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += r_[i].right - r_[i].left;
    return n;
  }
  // SACKed bytes below `s`.
  std::uint32_t sacked_below(seq32 s) const noexcept {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < count_ && r_[i].left < s; ++i) n += min(r_[i].right, s) - r_[i].left;
    return n;
  }
  seq32 highest(seq32 una) const noexcept { return count_ ? r_[count_ - 1].right : una; }

  // The first hole at or after `from` and below the highest SACKed byte: the
  // bytes RFC 6675's NextSeg() rule 1 sends again. False when there is none.
  bool next_hole(seq32 from, seq32& left, seq32& right) const noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      if (r_[i].left <= from) {
        if (from < r_[i].right) from = r_[i].right;
        continue;
      }
      left = from;
      right = r_[i].left;
      return true;
    }
    return false;
  }

  // RFC 6675 §4 SetPipe(), with every hole below the highest SACK taken as
  // lost: bytes beyond the highest SACK, plus holes sent again (below high_rxt).
  std::uint32_t pipe(seq32 una, seq32 max, seq32 high_rxt) const noexcept {
    const seq32 top = tcp::max(highest(una), una);
    std::uint32_t p = max - top;
    const seq32 rxt = min(high_rxt, top);
    if (una < rxt) p += (rxt - una) - sacked_below(rxt);
    return p;
  }

 private:
  std::array<sack_block, Capacity> r_{};
  std::size_t count_ = 0;
};

}  // namespace uni::tcp
