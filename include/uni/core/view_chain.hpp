// uni/core/view_chain.hpp: a bounded list of views that together form one
// packet or payload (a reassembled datagram, a frame to send). Fixed capacity,
// no allocation; only the views in use are constructed.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>

namespace uni {

template <std::size_t Capacity>
class basic_view_chain {
 public:
  static constexpr std::size_t capacity = Capacity;

  basic_view_chain() noexcept {}
  basic_view_chain(const view& v) noexcept { (void)push_back(v); }  // NOLINT: a view is a chain of one
  basic_view_chain(view&& v) noexcept { (void)push_back(std::move(v)); }  // NOLINT
  basic_view_chain(const basic_view_chain& o) noexcept {
    for (const view& v : o) (void)push_back(v);
  }
  basic_view_chain(basic_view_chain&& o) noexcept { take(o); }
  basic_view_chain& operator=(const basic_view_chain& o) noexcept {
    if (this != &o) {
      clear();
      for (const view& v : o) (void)push_back(v);
    }
    return *this;
  }
  basic_view_chain& operator=(basic_view_chain&& o) noexcept {
    if (this != &o) {
      clear();
      take(o);
    }
    return *this;
  }
  ~basic_view_chain() { clear(); }

  result<void> push_back(view v) noexcept {
    if (count_ == Capacity) return fail(error::too_large);
    std::construct_at(&slots_[count_].v, std::move(v));
    length_ += slots_[count_].v.size();
    ++count_;
    return {};
  }
  void clear() noexcept {
    while (count_) std::destroy_at(&slots_[--count_].v);
    length_ = 0;
  }

  std::size_t count() const noexcept { return count_; }       // number of views
  std::size_t length() const noexcept { return length_; }     // total bytes
  bool empty() const noexcept { return length_ == 0; }
  view* begin() noexcept { return &slots_[0].v; }
  view* end() noexcept { return &slots_[0].v + count_; }
  const view* begin() const noexcept { return &slots_[0].v; }
  const view* end() const noexcept { return &slots_[0].v + count_; }
  view& operator[](std::size_t i) noexcept { return slots_[i].v; }
  const view& operator[](std::size_t i) const noexcept { return slots_[i].v; }
  std::span<const view> views() const noexcept { return {begin(), count_}; }
  operator std::span<const view>() const noexcept { return views(); }  // NOLINT

  // The bytes [offset, offset + length) as a new chain sharing the same pages
  // (clamped to what there is).
  basic_view_chain subchain(std::size_t offset, std::size_t length) const noexcept;

  // Copies up to out.size() bytes starting at `offset`; returns bytes copied.
  std::size_t copy_to(std::span<std::uint8_t> out, std::size_t offset = 0) const noexcept {
    std::size_t done = 0;
    for (const view& v : *this) {
      if (offset >= v.size()) {
        offset -= v.size();
        continue;
      }
      std::size_t n = v.size() - offset;
      if (n > out.size() - done) n = out.size() - done;
      std::memcpy(out.data() + done, v.data() + offset, n);
      done += n;
      offset = 0;
      if (done == out.size()) break;
    }
    return done;
  }

 private:
  // Moves o's views into this empty chain, which has room for them all, and
  // leaves o empty (its moved-from views hold no page: nothing to release).
  [[gnu::noinline]] void take(basic_view_chain& o) noexcept {
    for (std::size_t i = 0; i < o.count_; ++i) std::construct_at(&slots_[i].v, std::move(o.slots_[i].v));
    count_ = std::exchange(o.count_, 0);
    length_ = std::exchange(o.length_, 0);
  }

  // A union member per slot: views are constructed only when pushed.
  union slot {
    slot() noexcept {}
    ~slot() {}
    view v;
  };
  slot slots_[Capacity];
  std::size_t count_ = 0;
  std::size_t length_ = 0;
};

// Appends the bytes [offset, offset + length) of the fragment list `src` to `out`
// as views sharing the same pages; error::too_large if `out` runs out of room.
template <std::size_t N>
result<void> append_range(basic_view_chain<N>& out, std::span<const view> src, std::size_t offset,
                          std::size_t length) noexcept {
  for (const view& v : src) {
    if (length == 0) break;
    if (offset >= v.size()) {
      offset -= v.size();
      continue;
    }
    view piece = v.tail(offset).head(length);
    length -= piece.size();
    offset = 0;
    if (!out.push_back(std::move(piece))) return fail(error::too_large);
  }
  return {};
}

template <std::size_t N>
basic_view_chain<N> basic_view_chain<N>::subchain(std::size_t offset, std::size_t length) const noexcept {
  basic_view_chain out;
  (void)append_range(out, views(), offset, length);  // never more views than this chain has
  return out;
}

// Large enough for a reassembled datagram of ~17 KB over 1500-byte links
// (DNS with EDNS(0) at 4096, ping -s 8000 and the like).
inline constexpr std::size_t max_chain_views = 12;
using view_chain = basic_view_chain<max_chain_views>;

}  // namespace uni
