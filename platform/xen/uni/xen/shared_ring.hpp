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
// for good (consume() fails with error::malformed); the driver closes its device.
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

template <class SharedRing, std::size_t PageSize = 4096>
class front_ring {
  using entry = std::remove_reference_t<decltype(std::declval<SharedRing&>().ring[0])>;

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
    std::memset(page, 0, bytes);
    sring_ = static_cast<SharedRing*>(page);
    sring_->req_event = sring_->rsp_event = 1;
    req_prod_pvt_ = rsp_cons_ = pushed_ = 0;
    entries_ = entries_in(bytes);
  }
  // This ring's entries (size, or fewer for a ring attached smaller).
  RING_IDX entries() const noexcept { return entries_; }
  void detach() noexcept { sring_ = nullptr; }
  bool attached() const noexcept { return sring_ != nullptr; }

  // Requests made, not yet answered (pushed or not).
  RING_IDX in_flight() const noexcept { return req_prod_pvt_ - rsp_cons_; }
  RING_IDX free_requests() const noexcept { return entries_ - in_flight(); }
  // The index the next request takes (ring position = index & (entries() - 1)).
  RING_IDX next_index() const noexcept { return req_prod_pvt_; }

  // The next request slot, to fill; it goes to the backend at push(). Only
  // while free_requests() > 0.
  request_type& next_request() noexcept { return sring_->ring[req_prod_pvt_++ & (entries_ - 1)].req; }

  // Publishes the requests made since the last push; true if the backend asked
  // to be notified of them (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).
  [[nodiscard]] bool push() noexcept {
    const RING_IDX old = sring_->req_prod;
    const RING_IDX now = req_prod_pvt_;
    cpu::wmb();  // the backend sees the requests before the index
    sring_->req_prod = now;
    pushed_ = now;
    cpu::mb();  // ... and the index before we read req_event
    return static_cast<RING_IDX>(now - sring_->req_event) < static_cast<RING_IDX>(now - old);
  }

  // Hands each new response, copied, to `on(response)`, until none is left
  // after re-arming rsp_event (RING_FINAL_CHECK_FOR_RESPONSES). Returns how many;
  // error::malformed if the backend's producer index is impossible.
  template <class F>
  result<std::size_t> consume(F&& on) noexcept {
    std::size_t n = 0;
    for (;;) {
      const RING_IDX prod = __atomic_load_n(&sring_->rsp_prod, __ATOMIC_ACQUIRE);
      // Unsigned: a producer behind rsp_cons wraps to a huge count, caught too.
      if (static_cast<RING_IDX>(prod - rsp_cons_) > static_cast<RING_IDX>(pushed_ - rsp_cons_)) {
        sring_ = nullptr;  // never touched again
        return fail(error::malformed);
      }
      while (rsp_cons_ != prod) {
        const response_type rsp = sring_->ring[rsp_cons_++ & (entries_ - 1)].rsp;
        on(rsp);
        ++n;
      }
      sring_->rsp_event = rsp_cons_ + 1;
      cpu::mb();  // the backend sees rsp_event before we look at rsp_prod again
      if (__atomic_load_n(&sring_->rsp_prod, __ATOMIC_ACQUIRE) == rsp_cons_) return n;
    }
  }

 private:
  SharedRing* sring_ = nullptr;
  RING_IDX req_prod_pvt_ = 0;  // our next request
  RING_IDX rsp_cons_ = 0;      // the next response to read
  RING_IDX pushed_ = 0;        // what the backend has been shown
  RING_IDX entries_ = size;
};

}  // namespace uni::xen
