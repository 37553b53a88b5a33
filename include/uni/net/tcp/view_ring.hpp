// uni/net/tcp/view_ring.hpp: a bounded FIFO of views, addressed by byte offset.
// TCP's send buffer (what the application wrote, until acknowledged) and its
// receive buffer (in-order data, until the application reads it) both hold the
// application's or the device's pages this way: no byte is copied in or out.
#pragma once

#include <array>
#include <cstddef>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/view_chain.hpp>

namespace uni::tcp {

namespace detail {

// The ring's work over its slots, passed in: one copy of the code for the
// send and the receive rings, whatever their capacities.
class view_ring_base {
 public:
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t count() const noexcept { return count_; }

 protected:
  bool push(std::span<view> slots, view&& v) noexcept {
    if (v.empty()) return true;
    if (count_ == slots.size()) return false;
    bytes_ += v.size();
    slots[(head_ + count_++) % slots.size()] = std::move(v);
    return true;
  }

  void drop_front(std::span<view> slots, std::size_t n) noexcept {
    while (n > 0 && count_ > 0) {
      view& v = slots[head_];
      if (n < v.size()) {
        v.drop_front(n);
        bytes_ -= n;
        return;
      }
      n -= v.size();
      bytes_ -= v.size();
      v = view{};
      head_ = (head_ + 1) % slots.size();
      --count_;
    }
  }

  // Takes the first view out whole; an empty view when there is none.
  view take_front(std::span<view> slots) noexcept {
    if (count_ == 0) return {};
    view v = std::move(slots[head_]);
    bytes_ -= v.size();
    head_ = (head_ + 1) % slots.size();
    --count_;
    return v;
  }

  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace detail

template <std::size_t Capacity>
class view_ring : public detail::view_ring_base {
 public:
  bool full() const noexcept { return count_ == Capacity; }
  bool empty() const noexcept { return bytes_ == 0; }

  bool push(view v) noexcept { return view_ring_base::push(slots_, std::move(v)); }

  // Forgets the first n bytes (acknowledged, or read).
  void drop_front(std::size_t n) noexcept { view_ring_base::drop_front(slots_, n); }

  // Appends the bytes [offset, offset + length) to `out` as shared sub-views,
  // stopping early when `out` is full; returns the bytes appended.
  template <std::size_t N>
  std::size_t copy_range(std::size_t offset, std::size_t length, basic_view_chain<N>& out) const noexcept {
    std::size_t done = 0;
    for (std::size_t i = 0; i < count_ && done < length; ++i) {
      const view& v = slots_[(head_ + i) % Capacity];
      if (offset >= v.size()) {
        offset -= v.size();
        continue;
      }
      view piece = v.tail(offset);  // one share of the page, trimmed in place
      piece.truncate(length - done);
      offset = 0;
      const std::size_t n = piece.size();
      if (!out.push_back(std::move(piece))) break;
      done += n;
    }
    return done;
  }

  // Takes the first view out whole (for reads); an empty view when there is none.
  view take_front() noexcept { return view_ring_base::take_front(slots_); }

  void clear() noexcept { drop_front(bytes_); }

 private:
  std::array<view, Capacity> slots_{};
};

}  // namespace uni::tcp
