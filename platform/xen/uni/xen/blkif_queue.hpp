// uni/xen/blkif_queue.hpp: the requests of a Xen block frontend on its shared
// ring (xen/io/blkif.h), without I/O: what goes into each ring slot, which
// grants it holds, and which answer completes which caller. XenBlkfront
// (uni/xen/blkfront.hpp) adds the xenstore handshake, the event channel and the
// waiting; the unit tests play the backend over this alone.
//
// A read or write of a list of views is a batch: one ring request per
// BLKIF_MAX_SEGMENTS_PER_REQUEST views (a view is one segment: a grant of its
// page and the first and last 512-byte sector in it; reads grant the page
// writable by the backend). A request's id names its slot and the slot's use
// (index | generation << 16), so a late or repeated answer is caught, and
// answers may come in any order. The batch completes when its last part does;
// an I/O error of one part is the batch's error.
//
// The backend writes the ring page, so nothing it says is trusted: a producer
// index past our requests (front_ring), an id not in flight, an operation that
// is not the request's, or a status blkif.h does not define breaks the queue for
// good: every waiting batch fails with error::device_gone, and the slots keep
// their pages and grants until release_all() (the backend may still hold them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/block/geometry.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/xen/public.hpp>
#include <uni/xen/shared_ring.hpp>

#include <xen/io/blkif.h>

namespace uni::xen {

// The grants the queue needs from a grant table (uni/xen/grant_table.hpp), as
// a concept so tests can stand in for the hypervisor's.
template <class G>
concept GrantTable = requires(G& g, domid_t d, std::uint64_t gfn, bool ro, grant_ref_t ref) {
  { g.grant(d, gfn, ro) } -> std::same_as<result<grant_ref_t>>;
  g.regrant(ref, d, gfn, ro);
  { g.revoke(ref) } -> std::same_as<bool>;
  g.release(ref);
};

template <GrantTable Grants>
class blkif_queue {
 public:
  using ring = front_ring<blkif_sring>;
  static constexpr std::size_t depth = ring::size;  // 32 requests on one page
  static constexpr std::size_t max_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST;
  static constexpr std::size_t wire_sector = 512;  // blkif's unit (no feature-large-sector-size)

  struct stats {
    std::uint64_t requests = 0;
    std::uint64_t segments = 0;
    std::uint64_t responses = 0;
    std::uint64_t io_errors = 0;     // BLKIF_RSP_ERROR or EOPNOTSUPP
    std::uint64_t stuck_grants = 0;  // answered, but the backend kept the page mapped
    std::uint64_t ring_errors = 0;   // the backend broke the protocol: the queue stopped
  };

  // The requests of one call; done when the last part is answered (or the queue
  // broke). Lives in the caller's frame; dying early, it lets go of its slots.
  class batch {
   public:
    batch() noexcept = default;
    batch(const batch&) = delete;
    batch& operator=(const batch&) = delete;
    ~batch() {
      if (queue_ && parts_ != 0) queue_->orphan(*this);
    }
    bool done() const noexcept { return parts_ == 0; }
    result<void> outcome() const noexcept {
      if (err_ != error::none) return fail(err_);
      return {};
    }

   private:
    friend class blkif_queue;
    void part_done(error e) noexcept {
      if (err_ == error::none) err_ = e;
      --parts_;
    }
    blkif_queue* queue_ = nullptr;
    std::uint32_t parts_ = 0;
    error err_ = error::none;
  };

  blkif_queue(Grants& grants) noexcept : grants_(grants) {}
  blkif_queue(const blkif_queue&) = delete;
  blkif_queue& operator=(const blkif_queue&) = delete;
  ~blkif_queue() { release_all(); }

  // Takes `page` (4 KiB, page-aligned) as the shared ring and reserves the
  // grant references every slot uses (depth * 11) for `backend`.
  result<void> attach(void* page, domid_t backend) noexcept {
    backend_ = backend;
    ring_.attach(page);
    stopped_ = false;
    for (std::size_t i = 0; i < depth; ++i) {
      slot& s = slots_[i];
      for (grant_ref_t& ref : s.refs) {
        if (s.refs_held == max_segments) break;
        auto r = grants_.grant(backend_, 0, true);
        if (!r) return fail(error::table_full);
        (void)grants_.revoke(*r);
        ref = *r;
        ++s.refs_held;
      }
      free_[i] = static_cast<std::uint16_t>(depth - 1 - i);
    }
    free_count_ = depth;
    return {};
  }

  // A read or write of `pages` from sector `first` of the device `g` (whose
  // alignment is its sector size): block::check_request's rules, and each view
  // in one page (it is one segment).
  static result<void> check(const block::geometry& g, block::direction d, std::uint64_t first,
                            std::span<const view> pages) noexcept {
    for (const view& v : pages)
      if ((reinterpret_cast<std::uintptr_t>(v.data()) & (page_size - 1)) + v.size() > page_size)
        return fail(error::misaligned);
    if (auto n = block::check_request(g, d, first, pages); !n) return fail(n.err());
    return {};
  }

  bool stopped() const noexcept { return stopped_; }
  std::size_t free_slots() const noexcept { return stopped_ ? 0 : free_count_; }
  std::size_t in_flight() const noexcept { return depth - free_count_; }

  // Puts the next part of `b` on the ring: BLKIF_OP_READ or _WRITE of as many of
  // `pages` (checked, empty ones skipped) as one request holds, from 512-byte
  // sector `sector`; BLKIF_OP_FLUSH_DISKCACHE with no pages. Only while
  // free_slots() > 0. Returns how many views it took; push() shows it to the backend.
  std::size_t issue(std::uint8_t op, std::uint64_t sector, std::span<const view> pages, batch& b) noexcept {
    const std::uint16_t index = free_[--free_count_];
    slot& s = slots_[index];
    s.generation = static_cast<std::uint16_t>(s.generation + 1);
    s.id = index | std::uint64_t{s.generation} << 16;
    s.op = op;
    s.owner = &b;
    s.busy = true;
    s.segments = 0;
    blkif_request_t& req = ring_.next_request();
    req.operation = op;
    req.handle = 0;
    req.id = s.id;
    req.sector_number = sector;
    std::size_t taken = 0;
    for (; taken < pages.size() && s.segments < max_segments; ++taken) {
      const view& v = pages[taken];
      if (v.empty()) continue;
      const auto addr = reinterpret_cast<std::uintptr_t>(v.data());
      const auto first_sect = static_cast<std::uint8_t>((addr & (page_size - 1)) / wire_sector);
      const auto last_sect = static_cast<std::uint8_t>(first_sect + v.size() / wire_sector - 1);
      const grant_ref_t ref = s.refs[s.segments];
      grants_.regrant(ref, backend_, addr >> 12, op != BLKIF_OP_READ);  // a read: the backend writes the page
      req.seg[s.segments] = {ref, first_sect, last_sect};
      s.held[s.segments++] = v;  // the page stays ours until the answer
    }
    req.nr_segments = s.segments;
    b.queue_ = this;
    ++b.parts_;
    ++stats_.requests;
    stats_.segments += s.segments;
    return taken;
  }

  // Shows the backend the requests issued since; true if it asked to be told.
  [[nodiscard]] bool push() noexcept { return ring_.push(); }

  // Takes the backend's answers, completing their batches' parts. error::malformed
  // if the backend broke the protocol (the queue is broken from then on).
  result<std::size_t> complete() noexcept {
    if (stopped_ || !ring_.attached()) return fail(error::device_gone);
    bool bad = false;
    auto n = ring_.consume([&](const blkif_response_t& rsp) {
      if (!bad) bad = !answer(rsp);
    });
    if (!n || bad) {
      ++stats_.ring_errors;
      stop();
      return fail(error::malformed);
    }
    return n;
  }

  // Fails every waiting batch with error::device_gone and takes no more requests
  // (the backend left, broke the ring, or the device is closing).
  void stop() noexcept {
    stopped_ = true;
    ring_.detach();
    for (slot& s : slots_)
      if (s.busy && s.owner) {
        s.owner->part_done(error::device_gone);
        s.owner = nullptr;
      }
  }

  // After the backend has closed: revokes every grant (one still mapped is
  // kept, with its page), frees the references, and detaches the ring.
  void release_all() noexcept {
    stop();
    for (slot& s : slots_) {
      if (s.busy) finish(s);
      if (s.busy) continue;  // a page the backend still maps: never reused
      for (std::size_t i = 0; i < s.refs_held; ++i) grants_.release(s.refs[i]);
      s.refs_held = 0;
    }
    free_count_ = 0;
  }

  const stats& statistics() const noexcept { return stats_; }

 private:
  struct slot {
    std::uint64_t id = 0;
    batch* owner = nullptr;  // null: the caller is gone, the answer is only awaited
    std::uint16_t generation = 0;
    std::uint8_t op = 0;
    std::uint8_t segments = 0;
    std::uint8_t refs_held = 0;
    bool busy = false;
    grant_ref_t refs[max_segments] = {};
    view held[max_segments];
  };

  // One answer; false if it breaks the protocol.
  bool answer(const blkif_response_t& rsp) noexcept {
    const std::uint64_t index = rsp.id & 0xffff;
    if (index >= depth) return false;
    slot& s = slots_[index];
    if (!s.busy || s.id != rsp.id || s.op != rsp.operation) return false;
    error e = error::none;
    if (rsp.status == BLKIF_RSP_ERROR || rsp.status == BLKIF_RSP_EOPNOTSUPP) e = error::io;
    else if (rsp.status != BLKIF_RSP_OKAY) return false;
    ++stats_.responses;
    if (e != error::none) ++stats_.io_errors;
    if (!finish(s) && e == error::none) e = error::io;  // the page is not ours yet: no result from it
    if (s.owner) s.owner->part_done(e);
    s.owner = nullptr;
    return true;
  }

  // Revokes the slot's grants and frees it; false (slot kept) if the backend still maps a page.
  bool finish(slot& s) noexcept {
    bool all = true;
    for (std::size_t i = 0; i < s.segments; ++i) {
      if (!s.held[i].data()) continue;
      if (!grants_.revoke(s.refs[i])) {
        all = false;
        continue;
      }
      s.held[i] = view{};
    }
    if (!all) {
      ++stats_.stuck_grants;
      return false;
    }
    s.busy = false;
    if (!stopped_) free_[free_count_++] = static_cast<std::uint16_t>(&s - slots_);
    return true;
  }

  void orphan(batch& b) noexcept {
    for (slot& s : slots_)
      if (s.owner == &b) s.owner = nullptr;
    b.parts_ = 0;
  }

  Grants& grants_;
  domid_t backend_ = 0;
  ring ring_;
  bool stopped_ = false;
  slot slots_[depth];
  std::uint16_t free_[depth] = {};
  std::size_t free_count_ = 0;
  stats stats_;
};

}  // namespace uni::xen
