// tests/fuzz/ethernet_fuzz.cpp: libFuzzer target for the Ethernet II header
// (uni/net/ethernet.hpp) and the stack's Ethernet input. The input is one frame.
//   1. ethernet_view::parse succeeds exactly when there are 14 bytes; its fields
//      are the bytes where the header diagram puts them, the payload is the rest
//      of the same buffer, and emit() writes the same 14 bytes back;
//   2. the frame, handed to a uni::Stack, is counted once and dropped or passed
//      up for the right reason (stack_harness checks every frame it sends, its
//      counters and that all pages come back).
#include <cstring>
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> frame(data, data + size);
  auto eth = ethernet_view::parse(frame);
  FUZZ_CHECK(eth.ok() == (size >= ethernet_view::header_size));
  if (eth) {
    FUZZ_CHECK(std::memcmp(eth->destination().bytes.data(), data, 6) == 0);
    FUZZ_CHECK(std::memcmp(eth->source().bytes.data(), data + 6, 6) == 0);
    FUZZ_CHECK(eth->type() == wire::load_be16(data + 12));
    FUZZ_CHECK(eth->payload().data() == frame.data() + ethernet_view::header_size);
    FUZZ_CHECK(eth->payload().size() == size - ethernet_view::header_size);
    std::uint8_t out[ethernet_view::header_size];
    ethernet_view::emit(out, eth->destination(), eth->source(), static_cast<ethertype>(eth->type()));
    FUZZ_CHECK(std::memcmp(out, data, sizeof out) == 0);
  }

  stack_harness h;
  const auto before = h.stack().statistics().ethernet;
  if (!h.inject(frame)) return 0;
  const auto& after = h.stack().statistics().ethernet;
  if (size < ethernet_view::header_size) {
    FUZZ_CHECK(after.dropped_by(ethernet_drop::truncated) == before.dropped_by(ethernet_drop::truncated) + 1);
    FUZZ_CHECK(after.received == before.received);
  } else {
    FUZZ_CHECK(after.received == before.received + 1);
    const mac_address dst = eth->destination();
    const bool ours = dst == our_mac || dst.is_broadcast();
    FUZZ_CHECK((after.dropped_by(ethernet_drop::not_for_us) != before.dropped_by(ethernet_drop::not_for_us)) == !ours);
    const std::uint16_t t = eth->type();
    const bool known = t == static_cast<std::uint16_t>(ethertype::arp) || t == static_cast<std::uint16_t>(ethertype::ipv4);
    FUZZ_CHECK((after.dropped_by(ethernet_drop::unsupported_type) !=
                before.dropped_by(ethernet_drop::unsupported_type)) == (ours && !known));
    if (!ours) FUZZ_CHECK(h.take_sent().empty());  // a frame for someone else gets no answer
  }
  h.settle(1s);
  h.finish();
  return 0;
}
