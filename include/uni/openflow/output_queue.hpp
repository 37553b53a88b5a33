// uni/openflow/output_queue.hpp: the bytes one side of an OpenFlow connection
// has queued for the other, whole messages in a fixed buffer: emitted at the
// end, written from the front, the rest moved down when the end has no room.
// A message that does not fit is not queued (the caller counts it).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>

namespace uni::openflow {

template <std::size_t Capacity>
class output_queue {
 public:
  // Bytes to write, oldest first; sent(n) once n of them are written.
  std::span<const std::uint8_t> pending() const noexcept { return {bytes_.data() + head_, tail_ - head_}; }
  void sent(std::size_t n) noexcept {
    head_ += std::min(n, tail_ - head_);
    if (head_ == tail_) head_ = tail_ = 0;
  }
  std::size_t room() const noexcept { return Capacity - tail_; }
  void clear() noexcept { head_ = tail_ = 0; }

  // Emits a message with `emit(span) -> result<size>` at the end; false if it did not fit.
  template <class Emit>
  bool push(Emit emit) noexcept {
    auto n = emit(std::span<std::uint8_t>(bytes_.data() + tail_, Capacity - tail_));
    if (!n && head_ > 0) {  // room at the front: move what is waiting there and try again
      std::memmove(bytes_.data(), bytes_.data() + head_, tail_ - head_);
      tail_ -= head_;
      head_ = 0;
      n = emit(std::span<std::uint8_t>(bytes_.data() + tail_, Capacity - tail_));
    }
    if (!n) return false;
    tail_ += *n;
    return true;
  }

 private:
  std::array<std::uint8_t, Capacity> bytes_{};
  std::size_t head_ = 0, tail_ = 0;
};

}  // namespace uni::openflow
