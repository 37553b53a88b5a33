// uni/vchan/ring.hpp: the shared page of a vchan, Xen's shared-memory channel,
// laid out as Linux's libxenvchan lays it (xen/io/libxenvchan.h), and the two
// byte rings in it, with every index a peer writes checked before it is used.
//
// The page: two ring_indices pairs (left: the client writes, the server reads;
// right: the server writes, the client reads), the two rings' orders (a ring
// holds 2^order bytes: order 10 sits at offset 1024 of this page, order 11 at
// 2048, order 12 and up in 2^(order-12) further granted pages, whose grant
// references follow the header, left's first), a live byte per side (1
// connected, 0 gone, 2 the client not come yet) and a notify byte per side.
//
// Indices are free-running 32-bit counters: the byte at index i is at
// i mod 2^order, and prod - cons (mod 2^32) is what the ring holds. Each side
// owns one index of each ring and keeps its own copy of it, so a peer can only
// lie about the other: a producer more than a ring ahead of our consumer, or a
// consumer ahead of our producer, is a broken channel (error::malformed), and
// nothing is read or written past the ring whatever the peer writes.
//
// Notification (libxenvchan's protocol): a side about to wait sets a bit in the
// other side's notify byte (notify_write: "tell me when you have written",
// notify_read: "tell me when you have consumed"); a side that wrote or consumed
// clears that bit in its own byte and signals the event channel only if it was
// set. Pure: no Xen, no I/O; the platform maps the pages and owns the event channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <uni/core/result.hpp>

namespace uni::vchan {

struct ring_indices {
  std::uint32_t cons;
  std::uint32_t prod;
};

// The header of the shared page (struct vchan_interface); grants follow it.
struct shared_header {
  ring_indices left;   // client -> server
  ring_indices right;  // server -> client
  std::uint16_t left_order;
  std::uint16_t right_order;
  std::uint8_t cli_live;
  std::uint8_t srv_live;
  std::uint8_t cli_notify;  // what the client must signal (set by the server)
  std::uint8_t srv_notify;  // what the server must signal (set by the client)
};
static_assert(sizeof(shared_header) == 24 && offsetof(shared_header, left_order) == 16 &&
              offsetof(shared_header, cli_live) == 20 && offsetof(shared_header, srv_notify) == 23);

inline constexpr std::size_t page_bytes = 4096;
inline constexpr std::size_t grants_offset = sizeof(shared_header);
inline constexpr std::uint8_t notify_write = 0x1;  // VCHAN_NOTIFY_WRITE
inline constexpr std::uint8_t notify_read = 0x2;   // VCHAN_NOTIFY_READ
inline constexpr std::uint8_t live_gone = 0, live_connected = 1, live_not_yet = 2;
inline constexpr unsigned min_order = 10;
inline constexpr unsigned max_order = 20;  // 1 MiB, 256 pages: what libxenvchan allows

enum class role { server, client };

// Where a ring of `order` lives: inside the shared page (its offset), or in
// pages_of(order) granted pages of its own (offset 0).
constexpr std::size_t in_page_offset(unsigned order) noexcept {
  return order == 10 ? 1024 : order == 11 ? 2048 : 0;
}
constexpr std::size_t pages_of(unsigned order) noexcept {
  return order >= 12 ? std::size_t{1} << (order - 12) : 0;
}

// Orders a server may announce: each 10..max, not both in the same place of
// the page, and the grant list must end before the first in-page ring.
constexpr result<void> check_orders(unsigned left, unsigned right) noexcept {
  if (left < min_order || left > max_order || right < min_order || right > max_order) return fail(error::malformed);
  if (left < 12 && left == right) return fail(error::malformed);
  std::size_t end = page_bytes;
  if (in_page_offset(left) && in_page_offset(left) < end) end = in_page_offset(left);
  if (in_page_offset(right) && in_page_offset(right) < end) end = in_page_offset(right);
  if (grants_offset + 4 * (pages_of(left) + pages_of(right)) > end) return fail(error::malformed);
  return {};
}

// A server's fresh header: both rings empty, the server live, the client not
// come yet, nobody asking for signals.
inline void initialise(shared_header& h, unsigned left_order, unsigned right_order) noexcept {
  h.left = {0, 0};
  h.right = {0, 0};
  h.left_order = static_cast<std::uint16_t>(left_order);
  h.right_order = static_cast<std::uint16_t>(right_order);
  h.cli_notify = h.srv_notify = 0;
  h.cli_live = live_not_yet;
  __atomic_store_n(&h.srv_live, live_connected, __ATOMIC_RELEASE);
}

// The grant list after the header: left's pages, then right's.
inline std::uint32_t* grants(shared_header& h) noexcept {
  return reinterpret_cast<std::uint32_t*>(reinterpret_cast<std::uint8_t*>(&h) + grants_offset);
}

// One direction of the channel, seen from one side: we either consume it (our
// index is cons) or produce into it (our index is prod). Its bytes are `chunks`
// equal pieces (the in-page area, or one per granted page), in ring order.
class ring {
 public:
  ring() noexcept = default;
  ring(ring_indices& shared, std::span<std::uint8_t* const> chunks, unsigned order, bool producer) noexcept
      : shared_(&shared), chunks_(chunks), size_(std::uint32_t{1} << order) {
    chunk_ = order >= 12 ? static_cast<std::uint32_t>(page_bytes) : size_;
    mine_ = load(producer ? shared.prod : shared.cons);
  }

  std::uint32_t size() const noexcept { return size_; }
  std::uint32_t index() const noexcept { return mine_; }
  // Both indices as the page holds them now (for a report, not for moving bytes).
  ring_indices shared() const noexcept { return {load(shared_->cons), load(shared_->prod)}; }

  // Bytes waiting to be consumed (consumer side): the peer's prod, checked.
  result<std::uint32_t> readable() const noexcept {
    const std::uint32_t held = load(shared_->prod) - mine_;
    if (held > size_) return fail(error::malformed);  // past the ring, or behind our consumer
    return held;
  }
  // Room to produce into (producer side): the peer's cons, checked.
  result<std::uint32_t> writable() const noexcept {
    const std::uint32_t held = mine_ - load(shared_->cons);
    if (held > size_) return fail(error::malformed);  // ahead of our producer, or a ring behind
    return size_ - held;
  }

  // Copies up to out.size() bytes out and publishes the new cons.
  result<std::size_t> read(std::span<std::uint8_t> out) noexcept {
    auto n = readable();
    if (!n) return fail(n.err());
    const std::size_t count = out.size() < *n ? out.size() : *n;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);  // the bytes after the index that covers them
    copy(count, [&](std::uint8_t* ring, std::size_t at, std::size_t len) { std::memcpy(out.data() + at, ring, len); });
    publish(shared_->cons, count);
    return count;
  }
  // Copies up to in.size() bytes in and publishes the new prod.
  result<std::size_t> write(std::span<const std::uint8_t> in) noexcept {
    auto room = writable();
    if (!room) return fail(room.err());
    const std::size_t count = in.size() < *room ? in.size() : *room;
    copy(count, [&](std::uint8_t* ring, std::size_t at, std::size_t len) { std::memcpy(ring, in.data() + at, len); });
    publish(shared_->prod, count);
    return count;
  }

 private:
  static std::uint32_t load(const std::uint32_t& i) noexcept { return __atomic_load_n(&i, __ATOMIC_ACQUIRE); }

  // Calls f(ring bytes, offset in the caller's buffer, length) for each
  // contiguous piece of the next `count` bytes from our index.
  template <class F>
  void copy(std::size_t count, F f) const noexcept {
    std::uint32_t at = mine_;
    for (std::size_t done = 0; done < count;) {
      const std::uint32_t offset = at & (size_ - 1);
      const std::uint32_t within = offset % chunk_;
      std::size_t len = chunk_ - within;
      if (len > count - done) len = count - done;
      f(chunks_[offset / chunk_] + within, done, len);
      done += len;
      at += static_cast<std::uint32_t>(len);
    }
  }
  void publish(std::uint32_t& shared, std::size_t count) noexcept {
    mine_ += static_cast<std::uint32_t>(count);
    __atomic_store_n(&shared, mine_, __ATOMIC_RELEASE);
  }

  ring_indices* shared_ = nullptr;
  std::span<std::uint8_t* const> chunks_;
  std::uint32_t size_ = 0;
  std::uint32_t chunk_ = 0;
  std::uint32_t mine_ = 0;
};

// The header seen from one side: live and notify bytes by role.
class control {
 public:
  control() noexcept = default;
  control(shared_header& h, role r) noexcept : h_(&h), server_(r == role::server) {}

  std::uint8_t peer_live() const noexcept { return __atomic_load_n(server_ ? &h_->cli_live : &h_->srv_live, __ATOMIC_ACQUIRE); }
  void set_live(std::uint8_t v) noexcept { __atomic_store_n(server_ ? &h_->srv_live : &h_->cli_live, v, __ATOMIC_SEQ_CST); }
  // Asks the peer to signal us after it next does `bit` (before we wait).
  void request(std::uint8_t bit) noexcept {
    __atomic_fetch_or(server_ ? &h_->cli_notify : &h_->srv_notify, bit, __ATOMIC_SEQ_CST);
  }
  // After we did `bit`: did the peer ask to be told? (Clears its request.)
  bool take_request(std::uint8_t bit) noexcept {
    const std::uint8_t was =
        __atomic_fetch_and(server_ ? &h_->srv_notify : &h_->cli_notify, static_cast<std::uint8_t>(~bit), __ATOMIC_SEQ_CST);
    return (was & bit) != 0;
  }
  shared_header* header() const noexcept { return h_; }

 private:
  shared_header* h_ = nullptr;
  bool server_ = true;
};

}  // namespace uni::vchan
