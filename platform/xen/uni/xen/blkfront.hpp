// uni/xen/blkfront.hpp: XenBlkfront, the BlockDevice of a Xen guest: a blkif
// frontend (xen/io/blkif.h) beside blkback in the driver domain.
//
// connect() runs the xenbus handshake (uni/xen/xenbus.hpp) under the node the
// toolstack made ("device/vbd/51712" for xvda): the ring and an event channel
// published with `protocol` x86_64-abi and state Initialised; once the backend is
// Connected its `sectors`, `sector-size`, `info`, `mode`, `feature-flush-cache`
// and `feature-max-indirect-segments` are read and we say Connected. Requests go
// through a blkif_queue (uni/xen/blkif_queue.hpp): a read or write is split into
// ring requests, one segment per view, its pages granted (writable by the backend
// for a read) until the answer; many calls may be in flight, up to the ring's
// requests (a call waits for free slots), and answers complete in any order.
//
// Optional features, used where the backend offers them (Linux blkback offers
// both), each bounded at compile time (MaxRingPages, MaxRequestSegments):
//   - a multi-page ring: 2^max-ring-page-order pages, up to MaxRingPages, as
//     ring-page-order and ring-ref0..N (one page: ring-ref, as before): 32
//     requests a page in flight;
//   - indirect requests (BLKIF_OP_INDIRECT): up to feature-max-indirect-segments
//     and MaxRequestSegments pages a request instead of 11, so a call of many
//     pages is one ring request (max_segments() says how many, and
//     block::request_queue cuts longer calls there).
// flush() is BLKIF_OP_FLUSH_DISKCACHE when the backend offers
// feature-flush-cache; without it the backend has no write cache to flush (a
// completed write is on the device) and flush() only returns.
// Not used: persistent grants, discard, multiple queues.
//
// A backend that breaks the protocol stops the device: every waiting call and
// every later one fails with error::device_gone, and close() still walks the
// states down and takes back what can be taken back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include <uni/block/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/xen/blkif_queue.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/xenbus.hpp>
#include <uni/xen/xenstore.hpp>

#include <xen/io/blkif.h>

namespace uni::xen {

template <std::size_t MaxRingPages = 1, std::size_t MaxRequestSegments = 32>
class basic_blkfront {
 public:
  using queue = blkif_queue<grant_table, MaxRingPages, MaxRequestSegments>;

  basic_blkfront(event_channels& ev, grant_table& gnt, xenstore& xs, page_pool& pool, scheduler& sched) noexcept
      : ev_(ev), pool_(pool), bus_(xs), queue_(gnt), gnt_(gnt), changed_(sched) {}
  basic_blkfront(const basic_blkfront&) = delete;
  basic_blkfront& operator=(const basic_blkfront&) = delete;
  ~basic_blkfront() { release(); }

  // The handshake with blkback for the disk at `node` ("device/vbd/51712").
  result<void> connect(std::string_view node) noexcept {
    if (auto r = bus_.attach(node); !r) return fail(r.err());
    auto order = backend_number("max-ring-page-order");  // blkback writes it at probe
    ring_pages_ = queue::ring_pages_for(order ? *order : 0);
    if (auto r = queue_.attach(ring_.bytes, ring_pages_, bus_.backend_id()); !r) return fail(r.err());
    for (std::size_t i = 0; i < ring_pages_; ++i) {
      auto ref = gnt_.grant(bus_.backend_id(), (reinterpret_cast<std::uintptr_t>(ring_.bytes) >> 12) + i, false);
      if (!ref) return fail(error::table_full);
      ring_refs_[i] = *ref;
      ++ring_granted_;
    }
    evtchn_alloc_unbound_t op{};
    op.dom = DOMID_SELF;
    op.remote_dom = bus_.backend_id();
    if (event_channel_op(EVTCHNOP_alloc_unbound, &op) != 0) return fail(error::io);
    port_ = op.port;
    if (auto r = ev_.attach(port_, &basic_blkfront::on_event, this); !r) return fail(r.err());

    // One page: ring-ref alone, as every backend reads it; more: ring-page-order and ring-ref0..N.
    const auto fields = ring_fields(std::make_index_sequence<MaxRingPages>{});
    const std::span<const xenbus_field> used =
        ring_pages_ == 1 ? std::span<const xenbus_field>(fields).subspan(1, 3)
                         : std::span<const xenbus_field>(fields).first(3 + ring_pages_);
    if (auto r = bus_.connect(used, XenbusStateInitialised); !r) return fail(r.err());
    auto sectors = backend_number("sectors");
    auto size = backend_number("sector-size");
    if (!sectors || !size) return fail(error::no_device);
    if (*size < 512 || *size > page_size || (*size & (*size - 1)) != 0) return fail(error::malformed);
    geometry_.sector_size = geometry_.alignment = static_cast<std::size_t>(*size);
    geometry_.sectors = *sectors;  // (in units of sector-size: blkif.h; Linux blkback writes 512-byte units for 512-byte disks)
    auto info = backend_number("info");
    xenstore::value mode;
    auto read_mode = bus_.read_backend(mode, "mode");
    geometry_.read_only = (info && (*info & VDISK_READONLY)) || (read_mode && mode.view() == "r");
    auto flush = backend_number("feature-flush-cache");
    flush_ = flush && *flush == 1;
    auto indirect = backend_number("feature-max-indirect-segments");  // written once Connected
    queue_.use_indirect(indirect ? *indirect : 0, pool_);
    if (auto r = bus_.switch_state(XenbusStateConnected); !r) return fail(r.err());
    connected_ = true;
    log_info("blkfront: ", node, ": ", geometry_.sectors, " sectors of ", geometry_.sector_size, " bytes",
             geometry_.read_only ? ", read-only" : "", flush_ ? ", flush" : ", no write cache", "; backend ",
             bus_.backend(), ", a ring of ", ring_pages_, ring_pages_ == 1 ? " page (" : " pages (", queue_.depth(),
             " requests), ", queue_.request_segments(), " pages a request",
             queue_.indirect() ? " (indirect)" : " (no indirect requests)");
    return {};
  }

  // Lets the calls in flight finish (bounded), then Closing, the backend's
  // Closing, Closed; every grant revoked.
  task<result<void>> close() {
    if (!connected_ && !queue_.stopped()) co_return result<void>{};
    connected_ = false;
    const time_point deadline = changed_.sched().now() + xenstore::timeout;
    while (queue_.in_flight() > 0 && !queue_.stopped())
      if (co_await changed_.wait_until(deadline) != wake_reason::notified) break;
    queue_.stop();
    changed_.notify_all();
    (void)bus_.close();
    release();
    const auto& s = queue_.statistics();
    log_info("blkfront: closed (", s.requests, " requests, ", s.indirect, " of them indirect, ", s.segments,
             " segments, ", s.io_errors, " I/O errors, ", s.ring_errors, " ring errors)");
    co_return result<void>{};
  }

  // ---- the BlockDevice policy ----
  std::size_t sector_size() const noexcept { return geometry_.sector_size; }
  std::uint64_t sectors() const noexcept { return geometry_.sectors; }
  bool read_only() const noexcept { return geometry_.read_only; }
  const block::geometry& geometry() const noexcept { return geometry_; }
  // One ring request's views (block::request_queue cuts longer calls there):
  // 11, or more with indirect requests.
  std::size_t max_segments() const noexcept { return queue_.request_segments(); }

  task<result<void>> read(std::uint64_t first, std::span<const view> into) {
    return transfer(BLKIF_OP_READ, first, into);
  }
  task<result<void>> write(std::uint64_t first, std::span<const view> from) {
    return transfer(BLKIF_OP_WRITE, first, from);
  }
  task<result<void>> flush() {
    if (flush_) co_return co_await transfer(BLKIF_OP_FLUSH_DISKCACHE, 0, {});
    if (!connected_ || queue_.stopped()) co_return fail(error::device_gone);
    co_return result<void>{};  // no write cache: what completed is on the device
  }

  const typename queue::stats& statistics() const noexcept { return queue_.statistics(); }
  bool connected() const noexcept { return connected_; }
  bool stopped() const noexcept { return queue_.stopped(); }
  bool flushes() const noexcept { return flush_; }

 private:
  result<std::uint64_t> backend_number(std::string_view leaf) noexcept {
    xenstore::value v;
    if (auto r = bus_.read_backend(v, leaf); !r || v.view().empty()) return fail(error::not_found);
    std::uint64_t n = 0;
    for (char c : v.view()) {
      if (c < '0' || c > '9') return fail(error::malformed);
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
  }

  // ring-page-order, event-channel, protocol, ring-ref (one page) or ring-ref0..N.
  template <std::size_t... I>
  std::array<xenbus_field, 3 + MaxRingPages> ring_fields(std::index_sequence<I...>) const noexcept {
    constexpr std::string_view names[] = {"ring-ref0", "ring-ref1", "ring-ref2",  "ring-ref3",  "ring-ref4",  "ring-ref5",
                                          "ring-ref6", "ring-ref7", "ring-ref8",  "ring-ref9",  "ring-ref10", "ring-ref11",
                                          "ring-ref12", "ring-ref13", "ring-ref14", "ring-ref15"};
    std::uint64_t order = 0;
    while ((std::size_t{1} << order) < ring_pages_) ++order;
    return {{{"ring-page-order", order},
             {"event-channel", port_},
             {"protocol", "x86_64-abi"},
             {ring_pages_ == 1 ? std::string_view{"ring-ref"} : names[I], ring_refs_[I]}...}};
  }

  task<result<void>> transfer(std::uint8_t op, std::uint64_t first, std::span<const view> pages) {
    if (!connected_ || queue_.stopped()) co_return fail(error::device_gone);
    const bool flush = op == BLKIF_OP_FLUSH_DISKCACHE;
    const auto d = op == BLKIF_OP_READ ? block::direction::read : block::direction::write;
    if (auto r = queue::check(geometry_, d, first, pages); !r && !flush) co_return r;
    std::uint64_t sector = first * (geometry_.sector_size / queue::wire_sector);
    typename queue::batch b;
    std::size_t next = 0;
    bool cut_short = false;  // the device stopped before every part was sent
    while (flush || next < pages.size()) {
      if (!flush && pages[next].empty()) {
        ++next;
        continue;
      }
      while (!queue_.ready() && !queue_.stopped()) co_await changed_.wait();
      if (queue_.stopped()) {
        cut_short = true;
        break;
      }
      const std::span<const view> rest = pages.subspan(next);
      const std::size_t taken = queue_.issue(op, sector, rest, b);
      for (std::size_t i = 0; i < taken; ++i) sector += rest[i].size() / queue::wire_sector;
      next += taken;
      if (queue_.push()) ev_.notify(port_);
      if (flush) break;
    }
    while (!b.done()) co_await changed_.wait();
    if (cut_short) co_return fail(error::device_gone);
    co_return b.outcome();
  }

  static void on_event(void* self, evtchn_port_t) noexcept {
    auto& d = *static_cast<basic_blkfront*>(self);
    if (d.queue_.stopped()) return;
    if (auto r = d.queue_.complete(); !r)
      log_error("blkfront: the backend broke the ring (", to_string(r.err()), "); the device is stopped");
    d.changed_.notify_all();
  }

  void release() noexcept {
    if (port_ != 0) {
      evtchn_close_t c{};
      c.port = port_;
      event_channel_op(EVTCHNOP_close, &c);
      port_ = 0;
    }
    queue_.release_all();
    for (; ring_granted_ > 0; --ring_granted_)  // (one the backend still maps stays granted)
      if (gnt_.revoke(ring_refs_[ring_granted_ - 1])) gnt_.release(ring_refs_[ring_granted_ - 1]);
  }

  event_channels& ev_;
  page_pool& pool_;
  xenbus_frontend bus_;
  queue queue_;
  grant_table& gnt_;
  wait_queue changed_;  // an answer came, or the device stopped
  struct alignas(page_size) ring_memory {
    std::uint8_t bytes[MaxRingPages * page_size];
  };
  ring_memory ring_;  // the ring's pages, in a row
  std::size_t ring_pages_ = 1, ring_granted_ = 0;
  grant_ref_t ring_refs_[MaxRingPages] = {};
  evtchn_port_t port_ = 0;
  block::geometry geometry_;
  bool flush_ = false;
  bool connected_ = false;
};

// A blkfront of one ring page (32 requests) and indirect requests of up to 32
// pages (128 KiB), as Linux's blkfront by default.
using XenBlkfront = basic_blkfront<>;

// The blkfront an appliance's Config sizes: a ring of as many pages (up to 16)
// as hold the Config::block_queue_depth requests its block::request_queue has
// at the driver, 32 a page.
constexpr std::size_t blkif_ring_pages_for(std::size_t requests) noexcept {
  std::size_t pages = 1;
  while (pages * front_ring<blkif_sring>::size < requests && pages < 16) pages *= 2;
  return pages;
}
template <class Config>
using blkfront_for = basic_blkfront<blkif_ring_pages_for(Config::block_queue_depth)>;

static_assert(BlockDevice<XenBlkfront>);

}  // namespace uni::xen
