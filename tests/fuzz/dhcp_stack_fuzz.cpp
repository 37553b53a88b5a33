// tests/fuzz/dhcp_stack_fuzz.cpp: libFuzzer target for a stack that leases its
// address (uni::Stack with Config::dhcp, uni/net/dhcp_client.hpp and its glue in
// uni/net/dhcp_layer.hpp). The input is a list of records (fuzz_support.hpp), each an
// Ethernet frame, handed to the stack as in stack_fuzz, starting while it has no
// address and sends DHCPDISCOVER. In a record with the 0x40 bit, a UDP datagram to
// port 68 is first made to pass the client's first checks (BOOTREPLY, the
// transaction id of the client's last message, our hardware address, the magic
// cookie; checksums then made right), so captured dnsmasq replies (corpus/
// dhcp_stack) lead to a lease and the fuzzer spends its time in the options and
// the states after them.
// Besides stack_fuzz's checks: the configured address is always the lease's (none
// without a lease), and nothing leaves from 0.0.0.0 but DHCP (RFC 1122 §3.2.1.3).
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

namespace {

struct dhcp_config : fuzz_config {
  static constexpr bool dhcp = true;
};

// Patches the DHCP message in an IPv4/UDP datagram to port 68, if there is one.
void patch_reply(std::span<std::uint8_t> ip, std::uint32_t xid) {
  auto h = ipv4_header::parse(ip);
  if (!h || h->is_fragment() || h->protocol != static_cast<std::uint8_t>(ip_protocol::udp)) return;
  auto udp = ip.subspan(h->header_length, h->payload_length());
  if (udp.size() < 8 + dhcp_message::min_size || wire::load_be16(&udp[2]) != dhcp_client_port) return;
  auto m = udp.subspan(8);
  m[0] = 2;  // BOOTREPLY
  m[1] = 1;
  m[2] = 6;
  wire::store_be32(&m[4], xid);
  std::memcpy(&m[28], our_mac.bytes.data(), our_mac.bytes.size());
  wire::store_be32(&m[dhcp_message::fixed_size], dhcp_message::magic_cookie);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  basic_stack_harness<dhcp_config> h(stack_settings{{}, {}, true});
  records in({data, size});
  while (auto r = in.next()) {
    std::vector<std::uint8_t> frame(r->bytes.begin(), r->bytes.end());
    if (frame.size() >= ethernet_view::header_size &&
        wire::load_be16(&frame[12]) == static_cast<std::uint16_t>(ethertype::ipv4)) {
      auto ip = std::span(frame).subspan(ethernet_view::header_size);
      if (r->fix_transport()) {
        fix_ipv4_checksum(ip);
        patch_reply(ip, h.dhcp_xid());
      }
      fix_checksums(*r, ip);
    }
    h.inject(frame);
    h.settle(std::chrono::milliseconds(250) * r->ticks());
    h.take_sent();
  }
  h.finish();
  return 0;
}
