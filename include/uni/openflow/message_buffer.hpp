// uni/openflow/message_buffer.hpp: the bytes received on an OpenFlow
// connection, cut into whole messages (header.hpp's next_message). A stream
// read may end anywhere: in a header, in a body, or after several messages;
// what it holds is appended, the whole messages are taken from the front one
// by one, and compact() moves the partial one left over to the start.
//
// The buffer holds a message of the largest length (max_message) whole, so a
// full buffer always starts with a whole message: taking messages and
// compacting always makes room for the next bytes.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include <uni/openflow/header.hpp>

namespace uni::openflow {

class message_buffer {
 public:
  static constexpr std::size_t capacity = max_message;

  // Copies what fits of `bytes`; returns how many it took (the caller keeps the rest).
  std::size_t append(std::span<const std::uint8_t> bytes) noexcept {
    const std::size_t k = std::min(bytes.size(), capacity - end_);
    std::memcpy(bytes_.data() + end_, bytes.data(), k);
    end_ += k;
    return k;
  }

  // The next whole message, taken (valid until the next append or compact):
  // error::truncated while more bytes are needed, error::malformed for a length
  // below the header's (the stream cannot be framed any more: close it).
  result<message> next() noexcept {
    auto m = peek();
    if (m) begin_ += m->h.length;
    return m;
  }
  // The same, left in place: the next next() returns it again.
  result<message> peek() const noexcept {
    return next_message(std::span<const std::uint8_t>(bytes_.data() + begin_, end_ - begin_));
  }

  // Moves the bytes not taken yet to the start, making room at the end.
  void compact() noexcept {
    std::memmove(bytes_.data(), bytes_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }

  std::size_t size() const noexcept { return end_ - begin_; }  // bytes not taken yet
  std::size_t room() const noexcept { return capacity - end_; }
  void clear() noexcept { begin_ = end_ = 0; }

 private:
  std::array<std::uint8_t, capacity> bytes_{};
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace uni::openflow
