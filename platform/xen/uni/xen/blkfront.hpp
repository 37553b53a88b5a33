// uni/xen/blkfront.hpp: XenBlkfront, the BlockDevice of a Xen guest: a blkif
// frontend (xen/io/blkif.h) beside blkback in the driver domain.
//
// connect() runs the xenbus handshake (uni/xen/xenbus.hpp) under the node the
// toolstack made ("device/vbd/51712" for xvda): one ring page and an event
// channel published with `protocol` x86_64-abi and state Initialised; once the
// backend is Connected its `sectors`, `sector-size`, `info`, `mode` and
// `feature-flush-cache` are read and we say Connected. Requests go through a
// blkif_queue (uni/xen/blkif_queue.hpp): a read or write is split into ring
// requests of up to 11 segments, one per view, its pages granted (writable by
// the backend for a read) until the answer; many calls may be in flight, up to
// the ring's 32 requests (a call waits for free slots), and answers complete in
// any order. flush() is BLKIF_OP_FLUSH_DISKCACHE when the backend offers
// feature-flush-cache; without it the backend has no write cache to flush (a
// completed write is on the device) and flush() only returns.
// Not used (Linux blkback offers them): multi-page rings, indirect segments,
// persistent grants, discard.
//
// A backend that breaks the protocol stops the device: every waiting call and
// every later one fails with error::device_gone, and close() still walks the
// states down and takes back what can be taken back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

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

class XenBlkfront {
 public:
  using queue = blkif_queue<grant_table>;

  XenBlkfront(event_channels& ev, grant_table& gnt, xenstore& xs, page_pool& pool, scheduler& sched) noexcept
      : ev_(ev), pool_(pool), bus_(xs), queue_(gnt), gnt_(gnt), changed_(sched) {}
  XenBlkfront(const XenBlkfront&) = delete;
  XenBlkfront& operator=(const XenBlkfront&) = delete;
  ~XenBlkfront() { release(); }

  // The handshake with blkback for the disk at `node` ("device/vbd/51712").
  task<result<void>> connect(std::string_view node) {
    if (auto r = co_await bus_.attach(node); !r) co_return fail(r.err());
    auto page = pool_.allocate();
    if (!page) co_return fail(error::no_buffers);
    ring_page_ = std::move(*page);
    if (auto r = queue_.attach(ring_page_.data(), bus_.backend_id()); !r) co_return fail(r.err());
    auto ref = gnt_.grant(bus_.backend_id(), reinterpret_cast<std::uintptr_t>(ring_page_.data()) >> 12, false);
    if (!ref) co_return fail(error::table_full);
    ring_ref_ = *ref;
    evtchn_alloc_unbound_t op{};
    op.dom = DOMID_SELF;
    op.remote_dom = bus_.backend_id();
    if (event_channel_op(EVTCHNOP_alloc_unbound, &op) != 0) co_return fail(error::io);
    port_ = op.port;
    if (auto r = ev_.attach(port_, &XenBlkfront::on_event, this); !r) co_return fail(r.err());

    const xenbus_field fields[] = {{"ring-ref", ring_ref_}, {"event-channel", port_}, {"protocol", "x86_64-abi"}};
    if (auto r = co_await bus_.connect(fields, XenbusStateInitialised); !r) co_return fail(r.err());
    auto sectors = co_await backend_number("sectors");
    auto size = co_await backend_number("sector-size");
    if (!sectors || !size) co_return fail(error::no_device);
    if (*size < 512 || *size > page_size || (*size & (*size - 1)) != 0) co_return fail(error::malformed);
    geometry_.sector_size = geometry_.alignment = static_cast<std::size_t>(*size);
    geometry_.sectors = *sectors;  // (in units of sector-size: blkif.h; Linux blkback writes 512-byte units for 512-byte disks)
    auto info = co_await backend_number("info");
    auto mode = co_await bus_.read_backend("mode");
    geometry_.read_only = (info && (*info & VDISK_READONLY)) || (mode && mode->view() == "r");
    auto flush = co_await backend_number("feature-flush-cache");
    flush_ = flush && *flush == 1;
    if (auto r = co_await bus_.switch_state(XenbusStateConnected); !r) co_return fail(r.err());
    connected_ = true;
    log_info("blkfront: ", node, ": ", geometry_.sectors, " sectors of ", geometry_.sector_size, " bytes",
             geometry_.read_only ? ", read-only" : "",
             flush_ ? ", flush" : ", no write cache", "; backend ", bus_.backend(), ", ", queue::depth,
             " requests of up to ", queue::max_segments, " pages");
    co_return result<void>{};
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
    (void)co_await bus_.close();
    release();
    const auto& s = queue_.statistics();
    log_info("blkfront: closed (", s.requests, " requests, ", s.segments, " segments, ", s.io_errors, " I/O errors, ",
             s.ring_errors, " ring errors)");
    co_return result<void>{};
  }

  // ---- the BlockDevice policy ----
  std::size_t sector_size() const noexcept { return geometry_.sector_size; }
  std::uint64_t sectors() const noexcept { return geometry_.sectors; }
  bool read_only() const noexcept { return geometry_.read_only; }
  const block::geometry& geometry() const noexcept { return geometry_; }
  // One ring request's views (block::request_queue cuts longer calls there).
  static constexpr std::size_t max_segments() noexcept { return queue::max_segments; }

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

  const queue::stats& statistics() const noexcept { return queue_.statistics(); }
  bool connected() const noexcept { return connected_; }
  bool stopped() const noexcept { return queue_.stopped(); }
  bool flushes() const noexcept { return flush_; }

 private:
  task<result<std::uint64_t>> backend_number(std::string_view leaf) {
    auto v = co_await bus_.read_backend(leaf);
    if (!v || v->view().empty()) co_return fail(error::not_found);
    std::uint64_t n = 0;
    for (char c : v->view()) {
      if (c < '0' || c > '9') co_return fail(error::malformed);
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    co_return n;
  }

  task<result<void>> transfer(std::uint8_t op, std::uint64_t first, std::span<const view> pages) {
    if (!connected_ || queue_.stopped()) co_return fail(error::device_gone);
    const bool flush = op == BLKIF_OP_FLUSH_DISKCACHE;
    const auto d = op == BLKIF_OP_READ ? block::direction::read : block::direction::write;
    if (auto r = queue::check(geometry_, d, first, pages); !r && !flush) co_return r;
    std::uint64_t sector = first * (geometry_.sector_size / queue::wire_sector);
    queue::batch b;
    std::size_t next = 0;
    bool cut_short = false;  // the device stopped before every part was sent
    while (flush || next < pages.size()) {
      if (!flush && pages[next].empty()) {
        ++next;
        continue;
      }
      while (queue_.free_slots() == 0 && !queue_.stopped()) co_await changed_.wait();
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
    auto& d = *static_cast<XenBlkfront*>(self);
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
    if (ring_page_.data() && gnt_.revoke(ring_ref_)) {
      gnt_.release(ring_ref_);
      ring_page_ = view{};
    }
  }

  event_channels& ev_;
  page_pool& pool_;
  xenbus_frontend bus_;
  queue queue_;
  grant_table& gnt_;
  wait_queue changed_;  // an answer came, or the device stopped
  view ring_page_;
  grant_ref_t ring_ref_ = 0;
  evtchn_port_t port_ = 0;
  block::geometry geometry_;
  bool flush_ = false;
  bool connected_ = false;
};

static_assert(BlockDevice<XenBlkfront>);

}  // namespace uni::xen
