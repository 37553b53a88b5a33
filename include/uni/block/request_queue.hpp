// uni/block/request_queue.hpp: the request API a store or an appliance uses on
// any block device. It is itself a BlockDevice, over a driver, and adds:
//
//   - a queue depth the appliance sets: at most Depth requests at the driver at
//     once; a caller that finds them all taken waits for one (a full queue is
//     back-pressure, not an error);
//   - splitting: a request longer than the driver takes (its max_request_sectors(),
//     its max_segments(), or Segments views) goes as several pieces, up to Depth
//     of them at once, each a slice of the caller's views (no copy);
//   - the same checks on every device, before anything is sent (geometry.hpp):
//     misaligned, out_of_range, read_only; the driver's own failure (io,
//     device_gone) comes back as it is. A request of several pieces fails with
//     the first piece's error, once every piece sent has come back;
//   - over a driver that can answer a read in the caller's turn (ReadsAtOnce),
//     read_at_once(): the same checks, then the driver's answer, no slot.
//
// Completions arrive in whatever order the driver finishes them; each caller's
// task resumes on its own. The views of a request are the caller's: the queue
// and the pieces hold slices of them only while they are at the driver, so when
// a request completes, failed or not, its pages are the caller's alone again.
// Nothing is allocated per request beyond a piece's coroutine frame, which the
// frame cache recycles (uni/core/frame_cache.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include <uni/block/concepts.hpp>
#include <uni/block/geometry.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>

namespace uni::block {

template <BlockDevice Device, std::size_t Depth = 32, std::size_t Segments = 16>
class request_queue {
  static_assert(Depth >= 1 && Segments >= 1);

 public:
  static constexpr std::size_t depth = Depth;

  struct stats {
    std::uint64_t requests = 0;  // reads and writes accepted
    std::uint64_t flushes = 0;
    std::uint64_t pieces = 0;    // sent to the driver (a request not split is one piece)
    std::uint64_t at_once = 0;   // reads the driver answered at once (read_at_once), no piece sent
    std::uint64_t split = 0;     // requests sent as several pieces
    std::uint64_t waited = 0;    // times a piece waited for a free slot
    std::uint64_t refused = 0;   // refused by the checks, nothing sent
    std::uint64_t failed = 0;    // failed at the driver
    std::size_t high_water = 0;  // most pieces at the driver at once
  };

  request_queue(Device& device, scheduler& sched) noexcept : device_(&device), sched_(&sched), slots_(sched) {}
  request_queue(const request_queue&) = delete;
  request_queue& operator=(const request_queue&) = delete;

  std::size_t sector_size() const noexcept { return device_->sector_size(); }
  std::uint64_t sectors() const noexcept { return device_->sectors(); }
  bool read_only() const noexcept { return device_->read_only(); }
  std::size_t alignment() const noexcept { return alignment_of(*device_); }
  Device& device() noexcept { return *device_; }
  std::size_t in_flight() const noexcept { return in_flight_; }
  const stats& statistics() const noexcept { return stats_; }

  task<result<void>> read(std::uint64_t first, std::span<const view> into) {
    return submit(direction::read, first, into);
  }
  task<result<void>> write(std::uint64_t first, std::span<const view> from) {
    return submit(direction::write, first, from);
  }
  // A read the driver answers in the caller's turn (block::ReadsAtOnce: a RAM
  // disk, a page-cache hit), after the same checks as read(). It takes no
  // slot: it is never at the driver. False: read() it (the driver could not,
  // or the request would go as several pieces).
  result<bool> read_at_once(std::uint64_t first, std::span<const view> into)
    requires ReadsAtOnce<Device>
  {
    const geometry g = geometry_of(*device_);
    const auto count = checked(g, direction::read, first, into);
    if (!count) return fail(count.err());
    if (!one_piece(g, *count, into)) return false;
    const result<bool> r = device_->read_at_once(first, into);
    if (!r || *r) ++stats_.requests;
    if (r && *r) ++stats_.at_once;
    if (!r) ++stats_.failed;
    return r;
  }

  // Takes a slot like a request: the flush reaches the driver behind the
  // requests already there, and covers every write completed before it.
  task<result<void>> flush() {
    ++stats_.flushes;
    if (in_flight_ == Depth) co_await slot_freed();
    slot s = take();
    result<void> r = co_await device_->flush();
    if (!r) ++stats_.failed;
    co_return r;
  }

 private:
  // One of the Depth places at the driver, given back when destroyed (also when
  // the task holding it is cancelled).
  class slot {
   public:
    explicit slot(request_queue* q) noexcept : q_(q) {}
    slot(slot&& o) noexcept : q_(std::exchange(o.q_, nullptr)) {}
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    slot& operator=(slot&&) = delete;
    ~slot() {
      if (q_) q_->release();
    }

   private:
    request_queue* q_;
  };

  // Waits until a slot is free (all Depth were taken); take() then takes it.
  // A request that finds one free pays no coroutine for it.
  task<void> slot_freed() {
    ++stats_.waited;
    while (in_flight_ == Depth) co_await slots_.wait();
  }
  slot take() noexcept {
    if (++in_flight_ > stats_.high_water) stats_.high_water = in_flight_;
    return slot{this};
  }
  void release() noexcept {
    --in_flight_;
    slots_.notify_one();
  }

  using piece_views = std::array<view, Segments>;

  // Walks a request's views, cutting pieces of at most `max_bytes` and `max_views`.
  class cutter {
   public:
    cutter(std::span<const view> pages, std::size_t max_bytes, std::size_t max_views) noexcept
        : pages_(pages), max_bytes_(max_bytes), max_views_(max_views) {}
    bool done() const noexcept { return index_ == pages_.size(); }
    // Fills `out` with the next piece; returns how many views and bytes it took.
    std::pair<std::size_t, std::size_t> next(piece_views& out) noexcept {
      std::size_t views = 0, bytes = 0;
      while (index_ < pages_.size() && views < max_views_ && bytes < max_bytes_) {
        const view& v = pages_[index_];
        const std::size_t left = v.size() - offset_;
        const std::size_t take = left < max_bytes_ - bytes ? left : max_bytes_ - bytes;
        out[views++] = v.tail(offset_).head(take);
        bytes += take;
        offset_ += take;
        if (offset_ == v.size()) {
          ++index_;
          offset_ = 0;
        }
      }
      return {views, bytes};
    }

   private:
    std::span<const view> pages_;
    std::size_t max_bytes_, max_views_;
    std::size_t index_ = 0, offset_ = 0;
  };

  task<result<void>> submit(direction d, std::uint64_t first, std::span<const view> pages) {
    const geometry g = geometry_of(*device_);
    const auto count = checked(g, d, first, pages);
    if (!count) co_return fail(count.err());
    ++stats_.requests;
    if (*count == 0) co_return result<void>{};
    if (one_piece(g, *count, pages)) {  // the caller's views as they are
      ++stats_.pieces;
      if (in_flight_ == Depth) co_await slot_freed();
      slot s = take();
      result<void> r = co_await send(d, first, pages);
      if (!r) ++stats_.failed;
      co_return r;
    }
    const std::uint64_t max_sectors = g.max_request_sectors ? g.max_request_sectors : *count;
    co_return co_await split(d, first, pages, static_cast<std::size_t>(max_sectors * g.sector_size), max_views());
  }

  // The request's sectors if it passes the checks; a refusal is counted.
  result<std::uint64_t> checked(const geometry& g, direction d, std::uint64_t first,
                                std::span<const view> pages) noexcept {
    auto count = check_request(g, d, first, pages);
    if (!count) ++stats_.refused;
    return count;
  }
  // The most views one piece carries: the driver's limit, within Segments.
  std::size_t max_views() const noexcept {
    const std::size_t m = max_segments_of(*device_);
    return m == 0 || m > Segments ? Segments : m;
  }
  // Whether a request of `count` sectors in `pages` goes to the driver whole.
  bool one_piece(const geometry& g, std::uint64_t count, std::span<const view> pages) const noexcept {
    return (g.max_request_sectors == 0 || count <= g.max_request_sectors) && pages.size() <= max_views();
  }

  task<result<void>> send(direction d, std::uint64_t first, std::span<const view> pages) {
    return d == direction::read ? device_->read(first, pages) : device_->write(first, pages);
  }

  // One piece at the driver. Its slot and its views go when its body ends:
  // a finished task's parameters live until its join handle is reaped, and a
  // split request waiting for a slot must not wait on slots nobody uses.
  task<result<void>> piece(direction d, std::uint64_t first, piece_views views, std::size_t n, slot s) {
    const slot held = std::move(s);
    result<void> r = co_await send(d, first, std::span<const view>(views.data(), n));
    for (view& v : views) v = view{};
    co_return r;
  }

  task<result<void>> split(direction d, std::uint64_t first, std::span<const view> pages, std::size_t max_bytes,
                           std::size_t max_views) {
    ++stats_.split;
    in_progress p;
    cutter cut(pages, max_bytes, max_views);
    std::uint64_t at = first;
    while (!cut.done() && p.outcome) {
      if (p.sent == Depth) {
        co_await reap_oldest(p);
        continue;
      }
      piece_views views;
      const auto [n, bytes] = cut.next(views);
      if (in_flight_ == Depth) co_await slot_freed();
      slot s = take();
      ++stats_.pieces;
      p.running[(p.oldest + p.sent) % Depth] = spawn(*sched_, piece(d, at, std::move(views), n, std::move(s)));
      ++p.sent;
      at += bytes / device_->sector_size();
    }
    while (p.sent > 0) co_await reap_oldest(p);
    co_return p.outcome;
  }

  // The pieces of a split request at the driver: a ring, oldest first.
  struct in_progress {
    std::array<join_handle<result<void>>, Depth> running;
    std::size_t oldest = 0, sent = 0;
    result<void> outcome;  // the first failure
  };
  task<void> reap_oldest(in_progress& p) {
    result<void> r = co_await p.running[p.oldest].join();
    p.running[p.oldest] = {};
    p.oldest = (p.oldest + 1) % Depth;
    --p.sent;
    if (!r) ++stats_.failed;
    if (!r && p.outcome) p.outcome = r;
  }

  Device* device_;
  scheduler* sched_;
  wait_queue slots_;
  std::size_t in_flight_ = 0;
  stats stats_;
};

}  // namespace uni::block
