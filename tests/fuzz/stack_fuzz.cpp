// tests/fuzz/stack_fuzz.cpp: libFuzzer target for the whole stack below TCP
// (uni/stack.hpp): a list of records (fuzz_support.hpp), each an Ethernet frame,
// handed one after the other to a uni::Stack with a UDP echo service on port 7,
// with time running between them (0 to 15.75 s, in quarter seconds), so ARP
// retries and expiry, reassembly timeouts, pending packets and the ICMP rate
// limit all come into play. Captured conversations (corpus/stack) replay as they
// happened.
// After every frame: each frame the stack sent is well formed (check_outgoing),
// its tables are within their bounds, and its counters account for every frame
// exactly once (stack_harness::check_state). Frame hooks take LLDP frames, GRE
// datagrams and other stations' frames, each checked to be one it should get, and
// hold on to the last frame each took (as an application may) until the end. At
// the end, once all timers have run out, nothing is held any more and every page
// is back in the pool.
#include <optional>
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stack_harness h;
  std::optional<view> lldp_frame, other_frame;
  std::optional<view_chain> gre_payload;
  auto lldp = [&](view f) {
    auto eth = ethernet_view::parse(f.bytes());
    FUZZ_CHECK(eth.ok() && eth->type() == 0x88cc);
    FUZZ_CHECK(eth->destination() == our_mac || eth->destination().is_multicast());
    lldp_frame = std::move(f);
  };
  auto gre = [&](const ipv4_header& ip, view_chain payload) {
    FUZZ_CHECK(ip.protocol == 47 && (ip.is_fragment() || payload.length() == ip.payload_length()));
    FUZZ_CHECK(ip.destination == our_ip || ip.destination.is_broadcast() || ip.destination == ipv4_address{0x0a0000ffu});
    gre_payload = std::move(payload);
  };
  auto other = [&](view f) {
    auto eth = ethernet_view::parse(f.bytes());
    FUZZ_CHECK(eth.ok() && eth->destination() != our_mac && !eth->destination().is_broadcast());
    other_frame = std::move(f);
  };
  auto hooks = std::array{h.stack().hook_ethertype(0x88cc, lldp), h.stack().hook_ip_protocol(47, gre),
                          h.stack().hook_other_macs(other)};
  for (const auto& k : hooks) FUZZ_CHECK(k.ok());
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
  lldp_frame.reset();
  other_frame.reset();
  gre_payload.reset();
  for (auto& k : hooks) k->close();  // before the stack goes
  h.finish();
  return 0;
}
