// tests/fuzz/netif_rx_fuzz.cpp: libFuzzer target for netfront's receive chains
// (uni/xen/netif_rx.hpp) as a hostile netback writes the RX ring, and for what
// XenNetif does with a finished frame (offload.hpp's classify, segmenter).
// Input: records of [control][8 bytes: a netif_rx_response / extra-info slot]
// [128 bytes written into the slot's page at the response's offset, if control
// & 2]; control & 1 makes the response's id its ring slot's, as netback does.
// Checked:
//   1. a frame's bytes are its slots' bytes: the head within its page, head +
//      tail the sum of the chain's sizes, never more slots than max_slots;
//   2. every chain ends as one frame or one counted drop;
//   3. a merged frame the segmenter takes is cut into segments of a page at most;
//   4. every page returns to the pool (none is kept or freed twice).
#include <cstdint>
#include <cstring>
#include <memory>

#include <uni/xen/netif_rx.hpp>

#include "fuzz_support.hpp"

using namespace uni;
using namespace uni::xen;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static_page_pool<64> pool;
  const std::size_t pages = pool.available();
  {
    auto chain = std::make_unique<netif_rx_chain<65536>>();
    std::size_t frames = 0, bytes_in_chain = 0, slots_in_chain = 0, ends = 0;
    bool more = false, extra = false, first = true;
    std::uint16_t slot = 0;
    while (size >= 9) {
      const std::uint8_t control = data[0];
      netif_rx_response_t rsp;
      std::memcpy(&rsp, data + 1, sizeof rsp);
      data += 9;
      size -= 9;
      if (control & 1) rsp.id = slot;
      auto page = pool.allocate();
      FUZZ_CHECK(static_cast<bool>(page));
      std::memset(page->data(), 0x5a, page_size);
      if ((control & 2) && size >= 128) {
        const std::size_t at = rsp.offset < page_size - 128 ? rsp.offset : page_size - 128;
        std::memcpy(page->data() + at, data, 128);
        data += 128;
        size -= 128;
      }
      // The chain's shape as netif.h draws it, to count its ends.
      if (extra) {
        netif_extra_info_t x;
        std::memcpy(&x, &rsp, sizeof x);
        extra = (x.flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
      } else {
        if (first) extra = (rsp.flags & NETRXF_extra_info) != 0;
        more = (rsp.flags & NETRXF_more_data) != 0;
        first = false;
        ++slots_in_chain;
        if (rsp.status > 0) bytes_in_chain += static_cast<std::size_t>(rsp.status);
      }
      const bool ends_here = !extra && !more;
      auto f = chain->take(rsp, slot, std::move(*page));
      slot = static_cast<std::uint16_t>((slot + 1) & 255);
      if (ends_here) {
        ++ends;
        first = true;
        if (f) {
          ++frames;
          FUZZ_CHECK(f->slots == slots_in_chain && f->slots <= netif_rx_chain<65536>::max_slots);
          FUZZ_CHECK(f->head.size() + f->tail.size() == bytes_in_chain);
          FUZZ_CHECK(f->head.size() <= page_size);
          // What XenNetif does with it.
          const std::size_t n = f->head.size() + f->tail.size();
          const auto kind = offload::classify(f->info, n, page_size);
          if (kind && *kind == offload::rx_kind::merged) {
            auto cut = offload::tcp_segmenter::parse_filling({f->head.bytes(), f->tail}, f->info.gso_size, page_size);
            if (cut)
              (void)offload::deliver_segments(*cut, pool, false, [&](view v) { FUZZ_CHECK(v.size() <= page_size); });
          }
        }
        bytes_in_chain = slots_in_chain = 0;
      } else {
        FUZZ_CHECK(f == nullptr);
      }
    }
    // An unfinished last chain may have counted its drop already.
    const std::size_t drops = chain->drops().total();
    FUZZ_CHECK(frames + drops == ends || (!first && frames + drops == ends + 1));
  }
  FUZZ_CHECK(pool.available() == pages);
  return 0;
}
