// uni/xen/blkif_queue.hpp: the requests of a Xen block frontend on its shared
// ring (xen/io/blkif.h), without I/O: what goes into each ring slot, which
// grants it holds, and which answer completes which caller. XenBlkfront
// (uni/xen/blkfront.hpp) adds the xenstore handshake, the event channel and the
// waiting; the unit tests play the backend over this alone.
//
// A read or write of a list of views is a batch of ring requests. A view is one
// segment: a grant of its page and the first and last 512-byte sector in it
// (reads grant the page writable by the backend). A request carries up to
// BLKIF_MAX_SEGMENTS_PER_REQUEST (11) segments in its ring slot, or, where the
// backend offers feature-max-indirect-segments, more (up to what it offers and
// MaxRequestSegments) as BLKIF_OP_INDIRECT: the segments are written in an
// indirect page granted read-only to the backend. A request's id names its slot
// and the slot's use (index | generation << 16), so a late or repeated answer is
// caught, and answers may come in any order. The batch completes when its last
// part does; an I/O error of one part is the batch's error.
//
// The ring is MaxRingPages pages at most (a multi-page ring, where the backend
// offers max-ring-page-order); its requests are what attach() was given. Every
// bound is fixed at compile time and nothing is allocated per request: the grant
// references (as many as a full ring of 11-segment requests uses) are reserved
// at attach and shared by the slots, and the indirect pages come from the page
// pool the first time they are needed and are kept for the next request.
//
// The backend writes the ring page, so nothing it says is trusted: a producer
// index past our requests (front_ring), an id not in flight, an operation that
// is not the request's, or a status blkif.h does not define breaks the queue for
// good: every waiting batch fails with error::device_gone, and the slots keep
// their pages and grants until release_all() (the backend may still hold them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
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

template <GrantTable Grants, std::size_t MaxRingPages = 1,
          std::size_t MaxRequestSegments = BLKIF_MAX_SEGMENTS_PER_REQUEST>
class blkif_queue {
 public:
  static constexpr std::size_t direct_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST;  // in the ring slot itself
  static constexpr std::size_t segments_per_page = page_size / sizeof(blkif_request_segment);
  static_assert(MaxRingPages >= 1 && MaxRingPages <= 16 && (MaxRingPages & (MaxRingPages - 1)) == 0,
                "a blkif ring is 1, 2, 4, 8 or 16 pages");
  static_assert(MaxRequestSegments >= direct_segments && MaxRequestSegments <= segments_per_page,
                "a request holds 11 segments up to one indirect page's");

  using ring = front_ring<blkif_sring, page_size * MaxRingPages>;
  static constexpr std::size_t max_depth = ring::size;  // 32 requests a page, up to 512
  static constexpr std::size_t max_segments = MaxRequestSegments;
  static constexpr std::size_t wire_sector = 512;  // blkif's unit (no feature-large-sector-size)
  // Grant references reserved: a full ring of direct requests' worth, whatever
  // mix of requests uses them.
  static constexpr std::size_t max_grants = max_depth * direct_segments;
  // Indirect requests in flight at once, at most (each has 12 segments or more,
  // and its page's grant): the indirect pages ever taken from the pool.
  static constexpr std::size_t max_indirect_pages =
      MaxRequestSegments > direct_segments ? max_grants / (direct_segments + 2) : 0;

  // What to use of what the backend offers: ring pages for its
  // max-ring-page-order (absent: 0), segments a request may carry for its
  // feature-max-indirect-segments (absent or 11 or fewer: 11, no indirect requests).
  static constexpr std::size_t ring_pages_for(std::uint64_t max_ring_page_order) noexcept {
    std::size_t pages = 1;
    for (std::uint64_t order = 0; order < max_ring_page_order && pages < MaxRingPages; ++order) pages *= 2;
    return pages;
  }
  static constexpr std::size_t request_segments_for(std::uint64_t max_indirect_segments) noexcept {
    if (max_indirect_segments <= direct_segments) return direct_segments;
    return max_indirect_segments < MaxRequestSegments ? static_cast<std::size_t>(max_indirect_segments)
                                                      : MaxRequestSegments;
  }

  struct stats {
    std::uint64_t requests = 0;
    std::uint64_t indirect = 0;  // of them, BLKIF_OP_INDIRECT
    std::uint64_t segments = 0;
    std::uint64_t responses = 0;
    std::uint64_t io_errors = 0;     // BLKIF_RSP_ERROR or EOPNOTSUPP
    std::uint64_t stuck_grants = 0;  // answered, but the backend kept a page mapped
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

  // Takes `ring_pages` pages in a row at `memory` (page-aligned; 1, 2, 4 ... up
  // to MaxRingPages) as the shared ring, and reserves the grant references its
  // requests use for `backend`. Requests are direct (11 segments) until use_indirect().
  result<void> attach(void* memory, std::size_t ring_pages, domid_t backend) noexcept {
    if (ring_pages < 1 || ring_pages > MaxRingPages || (ring_pages & (ring_pages - 1)) != 0)
      return fail(error::invalid_argument);
    backend_ = backend;
    ring_.attach(memory, ring_pages * page_size);
    stopped_ = false;
    for (std::size_t i = 0; i < depth(); ++i) free_[i] = static_cast<std::uint16_t>(depth() - 1 - i);
    free_count_ = depth();
    while (grants_held_ < depth() * direct_segments) {
      auto r = grants_.grant(backend_, 0, true);
      if (!r) return fail(error::table_full);
      (void)grants_.revoke(*r);
      segment& g = segments_[grants_held_];
      g.ref = *r;
      give_segment(static_cast<std::uint16_t>(grants_held_++));
    }
    return {};
  }

  // Requests of up to request_segments_for(`offered`) segments from now on, the
  // indirect ones' pages taken from `pool` (the backend's
  // feature-max-indirect-segments; 0 when it offers none).
  void use_indirect(std::uint64_t offered, page_pool& pool) noexcept {
    request_segments_ = request_segments_for(offered);
    indirect_pool_ = &pool;
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
  // The ring's requests (what attach() was given).
  std::size_t depth() const noexcept { return ring_.entries(); }
  // The most segments one request carries (11 without indirect requests).
  std::size_t request_segments() const noexcept { return request_segments_; }
  bool indirect() const noexcept { return request_segments_ > direct_segments; }
  std::size_t free_slots() const noexcept { return stopped_ ? 0 : free_count_; }
  std::size_t in_flight() const noexcept { return depth() - free_count_; }
  // True while issue() can put a request on the ring: a free slot, and a free
  // grant for a segment.
  bool ready() const noexcept { return free_slots() > 0 && free_grants_ > 0; }

  // Puts the next part of `b` on the ring: BLKIF_OP_READ or _WRITE of as many of
  // `pages` (checked, empty ones skipped) as one request holds (as
  // BLKIF_OP_INDIRECT when there are more than 11 and an indirect page and the
  // grants for them are at hand), from 512-byte sector `sector`;
  // BLKIF_OP_FLUSH_DISKCACHE with no pages. Only while ready(). Returns how many
  // views it took; push() shows it to the backend.
  std::size_t issue(std::uint8_t op, std::uint64_t sector, std::span<const view> pages, batch& b) noexcept {
    const std::uint16_t index = free_[--free_count_];
    slot& s = slots_[index];
    s.generation = static_cast<std::uint16_t>(s.generation + 1);
    s.id = index | std::uint64_t{s.generation} << 16;
    s.op = op;
    s.owner = &b;
    s.busy = true;
    s.segments = 0;
    s.chain = none;
    s.indirect = false;

    // Indirect: the descriptors go in a page of ours, granted read-only, first in the chain.
    blkif_request_segment* desc = nullptr;
    std::size_t room = free_grants_ < direct_segments ? free_grants_ : direct_segments;
    if (indirect() && free_grants_ > direct_segments + 1 && more_than(pages, direct_segments)) {
      if (view page = take_indirect_page(); page.data()) {
        const std::uint16_t g = link_segment(s, std::move(page));
        desc = reinterpret_cast<blkif_request_segment*>(segments_[g].held.data());
        room = free_grants_ < request_segments_ ? free_grants_ : request_segments_;
        s.indirect = true;
      }
    }
    blkif_request_t& req = ring_.next_request();
    if (!desc) desc = req.seg;
    std::size_t taken = 0;
    for (; taken < pages.size() && s.segments < room; ++taken) {
      const view& v = pages[taken];
      if (v.empty()) continue;
      const auto addr = reinterpret_cast<std::uintptr_t>(v.data());
      const auto first_sect = static_cast<std::uint8_t>((addr & (page_size - 1)) / wire_sector);
      const auto last_sect = static_cast<std::uint8_t>(first_sect + v.size() / wire_sector - 1);
      const std::uint16_t g = link_segment(s, v);  // the page stays ours until the answer
      grants_.regrant(segments_[g].ref, backend_, addr >> 12, op != BLKIF_OP_READ);  // a read: the backend writes it
      desc[s.segments++] = {segments_[g].ref, first_sect, last_sect};
    }
    if (s.indirect) {
      blkif_request_indirect_t ind{};
      ind.operation = BLKIF_OP_INDIRECT;
      ind.indirect_op = op;
      ind.nr_segments = s.segments;
      ind.id = s.id;
      ind.sector_number = sector;
      ind.handle = 0;
      const segment& page = segments_[s.chain];
      grants_.regrant(page.ref, backend_, reinterpret_cast<std::uintptr_t>(page.held.data()) >> 12, true);
      ind.indirect_grefs[0] = page.ref;
      std::memcpy(&req, &ind, sizeof ind);
      ++stats_.indirect;
    } else {
      req.operation = op;
      req.nr_segments = static_cast<std::uint8_t>(s.segments);
      req.handle = 0;
      req.id = s.id;
      req.sector_number = sector;
    }
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
    for (slot& s : slots_)
      if (s.busy) (void)finish(s);  // a slot still busy has a page the backend maps: never reused
    for (std::uint16_t g = free_segments_; g != none; g = segments_[g].next) grants_.release(segments_[g].ref);
    free_segments_ = none;
    free_grants_ = grants_held_ = 0;
    free_count_ = 0;
    for (std::size_t i = 0; i < indirect_cached_; ++i) indirect_cache_[i] = view{};
    indirect_cached_ = 0;
  }

  const stats& statistics() const noexcept { return stats_; }

 private:
  static constexpr std::uint16_t none = 0xffff;

  // A grant reference, and the page it grants while a request holds it.
  struct segment {
    grant_ref_t ref = 0;
    std::uint16_t next = none;
    view held;
  };

  struct slot {
    std::uint64_t id = 0;
    batch* owner = nullptr;  // null: the caller is gone, the answer is only awaited
    std::uint16_t generation = 0;
    std::uint16_t segments = 0;  // the request's data segments
    std::uint16_t chain = none;  // its grants (the indirect page's first), linked by segment::next
    std::uint8_t op = 0;
    bool indirect = false;
    bool busy = false;
  };

  // True if `pages` has more than `n` views that are not empty.
  static bool more_than(std::span<const view> pages, std::size_t n) noexcept {
    std::size_t seen = 0;
    for (const view& v : pages)
      if (!v.empty() && ++seen > n) return true;
    return false;
  }

  // Takes a free grant for `page`, at the end of the slot's chain.
  std::uint16_t link_segment(slot& s, view page) noexcept {
    const std::uint16_t g = free_segments_;
    free_segments_ = segments_[g].next;
    --free_grants_;
    segments_[g].held = std::move(page);
    segments_[g].next = none;
    if (s.chain == none) s.chain = g;
    else segments_[last_].next = g;
    last_ = g;
    return g;
  }
  void give_segment(std::uint16_t g) noexcept {
    segments_[g].next = free_segments_;
    free_segments_ = g;
    ++free_grants_;
  }

  // A page for an indirect request's descriptors: one kept from before, or a
  // new one while fewer than max_indirect_pages were taken; none when the pool is dry.
  view take_indirect_page() noexcept {
    if (indirect_cached_ > 0) return std::move(indirect_cache_[--indirect_cached_]);
    if (indirect_taken_ == max_indirect_pages || !indirect_pool_) return {};
    auto p = indirect_pool_->allocate();
    if (!p) return {};
    ++indirect_taken_;
    return std::move(*p);
  }

  // One answer; false if it breaks the protocol.
  bool answer(const blkif_response_t& rsp) noexcept {
    const std::uint64_t index = rsp.id & 0xffff;
    if (index >= depth()) return false;
    slot& s = slots_[index];
    // Linux blkback answers an indirect request with its indirect_op; blkif.h says the request's operation.
    const bool op_ok = rsp.operation == s.op || (s.indirect && rsp.operation == BLKIF_OP_INDIRECT);
    if (!s.busy || s.id != rsp.id || !op_ok) return false;
    error e = error::none;
    if (rsp.status == BLKIF_RSP_ERROR || rsp.status == BLKIF_RSP_EOPNOTSUPP) e = error::io;
    else if (rsp.status != BLKIF_RSP_OKAY) return false;
    ++stats_.responses;
    if (e != error::none) ++stats_.io_errors;
    if (!finish(s) && e == error::none) e = error::io;  // a page is not ours yet: no result from it
    if (s.owner) s.owner->part_done(e);
    s.owner = nullptr;
    return true;
  }

  // Revokes the slot's grants and frees it, its grants and its indirect page;
  // false (slot and grants kept) if the backend still maps a page.
  bool finish(slot& s) noexcept {
    bool all = true;
    for (std::uint16_t g = s.chain; g != none; g = segments_[g].next) {
      segment& seg = segments_[g];
      if (!seg.held.data()) continue;
      if (!grants_.revoke(seg.ref)) {
        all = false;
        continue;
      }
      if (s.indirect && g == s.chain) indirect_cache_[indirect_cached_++] = std::move(seg.held);
      seg.held = view{};
    }
    if (!all) {
      ++stats_.stuck_grants;
      return false;
    }
    for (std::uint16_t g = s.chain; g != none;) {
      const std::uint16_t next = segments_[g].next;
      give_segment(g);
      g = next;
    }
    s.chain = none;
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
  std::size_t request_segments_ = direct_segments;
  page_pool* indirect_pool_ = nullptr;
  slot slots_[max_depth];
  std::uint16_t free_[max_depth] = {};
  std::size_t free_count_ = 0;
  segment segments_[max_grants];
  std::uint16_t free_segments_ = none;
  std::uint16_t last_ = none;  // the chain being built's last grant
  std::size_t free_grants_ = 0, grants_held_ = 0;
  view indirect_cache_[max_indirect_pages > 0 ? max_indirect_pages : 1];
  std::size_t indirect_cached_ = 0, indirect_taken_ = 0;
  stats stats_;
};

}  // namespace uni::xen
