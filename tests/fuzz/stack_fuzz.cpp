// tests/fuzz/stack_fuzz.cpp: libFuzzer target for the whole stack below TCP
// (uni/stack.hpp): a list of records (fuzz_support.hpp), each an Ethernet frame,
// handed one after the other to a uni::Stack with a UDP echo service on port 7,
// with time running between them (0 to 15.75 s, in quarter seconds), so ARP
// retries and expiry, reassembly timeouts, pending packets and the ICMP rate
// limit all come into play. Captured conversations (corpus/stack) replay as they
// happened.
// After every frame: each frame the stack sent is well formed (check_outgoing),
// its tables are within their bounds, and its counters account for every frame
// exactly once (stack_harness::check_state). At the end, once all timers have
// run out, nothing is held any more and every page is back in the pool.
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stack_harness h;
  records in({data, size});
  while (auto r = in.next()) {
    std::vector<std::uint8_t> frame(r->bytes.begin(), r->bytes.end());
    if (frame.size() >= ethernet_view::header_size &&
        wire::load_be16(&frame[12]) == static_cast<std::uint16_t>(ethertype::ipv4))
      fix_checksums(*r, std::span(frame).subspan(ethernet_view::header_size));
    h.inject(frame);
    h.settle(std::chrono::milliseconds(250) * r->ticks());
    h.take_sent();
  }
  h.finish();
  return 0;
}
