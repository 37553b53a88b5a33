// uni/xen/shared_ring.hpp: the frontend's side of a Xen shared ring
// (xen/io/ring.h), for every split driver: netif's TX and RX rings, blkif's,
// any ring made by DEFINE_RING_TYPES. `front_ring<netif_tx_sring>` is
// FRONT_RING_INIT, RING_GET_REQUEST, RING_PUSH_REQUESTS_AND_CHECK_NOTIFY and
// RING_FINAL_CHECK_FOR_RESPONSES over the header's own structures, as a class.
//
// The page is shared with another domain, which may write anything into it. So
// responses are copied out before they are looked at, and the backend's response
// producer is checked before any is read: it may not run past the requests we
// pushed (nor fall behind what we consumed). A ring that breaks this is broken
// for good (it detaches: next_response() is false and consume() fails with
// error::malformed); the driver closes its device. What does not depend on the
// ring's entries (the indices, push, the producer's check) is one body for
// every ring type (detail::front_ring_indices).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include <uni/core/result.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/public.hpp>

#include <xen/io/ring.h>

namespace uni::xen {

namespace detail {

// What a front ring does with the four indices every shared ring starts with
// (DEFINE_RING_TYPES: req_prod, req_event, rsp_prod, rsp_event), whatever its
// entries: one body for every ring type, not one per ring.
class front_ring_indices {
 public:
  void detach() noexcept { shared_ = nullptr; }
  bool attached() const noexcept { return shared_ != nullptr; }

  // Requests made, not yet answered (pushed or not).
  RING_IDX in_flight() const noexcept { return req_prod_pvt_ - rsp_cons_; }
  // The index the next request takes (ring position = index & (entries() - 1)).
  RING_IDX next_index() const noexcept { return req_prod_pvt_; }
  // The responses read so far (the last one's ring position: (consumed() - 1) & (entries() - 1)).
  RING_IDX consumed() const noexcept { return rsp_cons_; }

  // Publishes the requests made since the last push; true if the backend asked
  // to be notified of them (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).
  [[nodiscard]] bool push() noexcept {
    const RING_IDX old = shared_[req_prod];
    const RING_IDX now = req_prod_pvt_;
    cpu::wmb();  // the backend sees the requests before the index
    shared_[req_prod] = now;
    pushed_ = now;
    cpu::mb();  // ... and the index before we read req_event
    return static_cast<RING_IDX>(now - shared_[req_event]) < static_cast<RING_IDX>(now - old);
  }

 protected:
  enum index : std::size_t { req_prod, req_event, rsp_prod, rsp_event };

  // SHARED_RING_INIT + FRONT_RING_INIT on the zeroed-here `page` of `bytes`.
  void attach_indices(void* page, std::size_t bytes) noexcept {
    std::memset(page, 0, bytes);
    shared_ = static_cast<RING_IDX*>(page);
    shared_[req_event] = shared_[rsp_event] = 1;
    req_prod_pvt_ = rsp_cons_ = pushed_ = produced_ = 0;
  }

  // Whether a response is waiting at rsp_cons_: one the backend's producer
  // index showed, or one it shows now, read again after re-arming rsp_event
  // (RING_FINAL_CHECK_FOR_RESPONSES). False as well, the ring detached for
  // good, if that index is impossible: past the requests pushed, or behind
  // what was consumed (unsigned, it wraps to a huge count).
  bool response_waiting() noexcept {
    if (rsp_cons_ != produced_) return true;
    RING_IDX prod = __atomic_load_n(&shared_[rsp_prod], __ATOMIC_ACQUIRE);
    if (prod == rsp_cons_) {
      shared_[rsp_event] = rsp_cons_ + 1;
      cpu::mb();  // the backend sees rsp_event before we look at rsp_prod again
      prod = __atomic_load_n(&shared_[rsp_prod], __ATOMIC_ACQUIRE);
      if (prod == rsp_cons_) return false;
    }
    if (static_cast<RING_IDX>(prod - rsp_cons_) > static_cast<RING_IDX>(pushed_ - rsp_cons_)) {
      shared_ = nullptr;  // never touched again
      return false;
    }
    produced_ = prod;
    return true;
  }

  RING_IDX* shared_ = nullptr;  // the page's indices
  RING_IDX req_prod_pvt_ = 0;   // our next request
  RING_IDX rsp_cons_ = 0;       // the next response to read
  RING_IDX pushed_ = 0;         // what the backend has been shown
  RING_IDX produced_ = 0;       // the backend's producer index, last read and checked
};

}  // namespace detail

template <class SharedRing, std::size_t PageSize = 4096>
class front_ring : public detail::front_ring_indices {
  using entry = std::remove_reference_t<decltype(std::declval<SharedRing&>().ring[0])>;
  static_assert(offsetof(SharedRing, req_prod) == req_prod * sizeof(RING_IDX) &&
                offsetof(SharedRing, req_event) == req_event * sizeof(RING_IDX) &&
                offsetof(SharedRing, rsp_prod) == rsp_prod * sizeof(RING_IDX) &&
                offsetof(SharedRing, rsp_event) == rsp_event * sizeof(RING_IDX));

  static constexpr std::size_t round_down_pow2(std::size_t n) noexcept {
    std::size_t p = 1;
    while (p * 2 <= n) p *= 2;
    return p;
  }

 public:
  using request_type = decltype(entry::req);
  using response_type = decltype(entry::rsp);
  // __CONST_RING_SIZE: as many entries as `bytes` hold, rounded down to a power of two.
  static constexpr RING_IDX entries_in(std::size_t bytes) noexcept {
    return static_cast<RING_IDX>(round_down_pow2((bytes - offsetof(SharedRing, ring)) / sizeof(entry)));
  }
  // The most entries: a ring of PageSize bytes (a multi-page ring's bound).
  static constexpr RING_IDX size = entries_in(PageSize);

  // Takes the zeroed-here `page` (`bytes` of at most PageSize, page-aligned:
  // a multi-page ring's pages in a row) as the ring: SHARED_RING_INIT + FRONT_RING_INIT.
  void attach(void* page, std::size_t bytes = PageSize) noexcept {
    attach_indices(page, bytes);
    entries_ = entries_in(bytes);
  }
  // This ring's entries (size, or fewer for a ring attached smaller).
  RING_IDX entries() const noexcept { return entries_; }

  RING_IDX free_requests() const noexcept { return entries_ - in_flight(); }

  // The next request slot, to fill; it goes to the backend at push(). Only
  // while free_requests() > 0.
  request_type& next_request() noexcept { return ring()[req_prod_pvt_++ & (entries_ - 1)].req; }

  // The next response, copied into `rsp` (the backend may write the page at
  // any time); false when there is none, rsp_event re-armed, or when the
  // backend's producer index is impossible: then the ring is detached for
  // good (attached() is false).
  bool next_response(response_type& rsp) noexcept {
    if (!response_waiting()) return false;
    rsp = ring()[rsp_cons_++ & (entries_ - 1)].rsp;
    return true;
  }

  // Hands each new response, copied, to `on(response)`, until none is left
  // (next_response). Returns how many; error::malformed if the backend's
  // producer index is impossible.
  template <class F>
  result<std::size_t> consume(F&& on) noexcept {
    std::size_t n = 0;
    for (response_type rsp; next_response(rsp); ++n) on(rsp);
    if (!attached()) return fail(error::malformed);
    return n;
  }

 private:
  auto* ring() noexcept { return reinterpret_cast<SharedRing*>(shared_)->ring; }

  RING_IDX entries_ = size;
};

}  // namespace uni::xen
