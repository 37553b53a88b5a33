// tests/fuzz/udp_fuzz.cpp: libFuzzer target for UDP (RFC 768, uni/net/udp.hpp) and
// the stack's UDP input. The input is [source address: 4][destination: 4] and a
// UDP datagram (header and data).
//   1. udp_header::parse, given the datagram whole and cut into fragments, accepts
//      it exactly when the length field lies between 8 and the bytes present and
//      the checksum is 0 or right over the pseudo-header and `length` bytes (both
//      computed here independently of uni's pseudo-header code); emit() over the
//      same data gives a header that parses back, with a checksum never 0;
//   2. the datagram, checksum made right, goes from a known peer to a stack that
//      runs an echo service on port 7: to port 7 exactly the same data comes back
//      from port 7 to the sender's port; to another port an ICMP port
//      unreachable quoting it; a datagram with a bad length gets nothing.
#include <cstring>
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

namespace {

bool checksum_ok(ipv4_address src, ipv4_address dst, std::span<const std::uint8_t> d, std::size_t length) {
  if (wire::load_be16(&d[6]) == 0) return true;
  std::vector<std::uint8_t> sum(12 + length);
  wire::store_be32(&sum[0], src.value);
  wire::store_be32(&sum[4], dst.value);
  sum[9] = 17;
  wire::store_be16(&sum[10], static_cast<std::uint16_t>(length));
  std::memcpy(&sum[12], d.data(), length);
  return internet_checksum(sum) == 0;
}

void check_parser(ipv4_address src, ipv4_address dst, std::span<const std::uint8_t> d) {
  std::vector<std::uint8_t> copy(d.begin(), d.end());
  const view whole = view::unowned(std::span<std::uint8_t>(copy));
  const std::size_t length = d.size() >= 8 ? wire::load_be16(&d[4]) : 0;
  const bool valid = d.size() >= 8 && length >= 8 && length <= d.size() && checksum_ok(src, dst, d, length);
  // The header alone, then odd-sized pieces, as a reassembled datagram may come.
  std::vector<view> frags;
  for (std::size_t at = 0, n = 8; at < d.size() && frags.size() + 1 < view_chain::capacity; at += n, n = 13)
    frags.push_back(whole.tail(at).head(n));
  if (frags.size() + 1 == view_chain::capacity) frags.push_back(whole.tail(8 + 13 * (frags.size() - 1)));
  for (std::span<const view> in : {std::span<const view>(&whole, 1), std::span<const view>(frags)}) {
    auto h = udp_header::parse(in, src, dst);
    FUZZ_CHECK(h.ok() == valid);
    if (!h) continue;
    FUZZ_CHECK(h->source_port == wire::load_be16(&d[0]) && h->destination_port == wire::load_be16(&d[2]) &&
               h->length == length);
    std::uint8_t out[udp_header::size];
    const view data = whole.tail(8).head(length - 8);
    udp_header::emit(out, h->source_port, h->destination_port, src, dst, std::span<const view>(&data, 1));
    const view again[] = {view::unowned(std::span<std::uint8_t>(out)), data};
    auto back = udp_header::parse(again, src, dst);
    FUZZ_CHECK(back.ok() && back->checksum != 0 && back->length == length &&
               back->source_port == h->source_port && back->destination_port == h->destination_port);
  }
}

void check_stack(std::span<const std::uint8_t> d) {
  stack_harness h;
  const arp_packet hello{arp_op::reply, peer_mac, peer_ip, our_mac, our_ip};
  std::uint8_t b[arp_packet::size];
  hello.emit(b);
  h.inject(ethernet_frame(our_mac, peer_mac, ethertype::arp, b));

  auto packet = ipv4_packet(peer_ip, our_ip, ip_protocol::udp, d);
  if (packet.size() > 1500) return;
  fix_transport_checksum(packet);
  const auto dgram = std::span<const std::uint8_t>(packet).subspan(ipv4_header::min_size);
  if (!h.inject(ethernet_frame(our_mac, peer_mac, ethertype::ipv4, packet))) return;
  h.settle(10ms);  // the echo service runs
  auto sent = h.take_sent();
  const std::size_t length = d.size() >= 8 ? wire::load_be16(&d[4]) : 0;
  if (length < 8 || length > d.size()) {
    FUZZ_CHECK(sent.empty());
    return;
  }
  FUZZ_CHECK(sent.size() == 1);
  const auto reply = std::span<const std::uint8_t>(sent[0]).subspan(ethernet_view::header_size);
  auto ip = ipv4_header::parse(reply);
  FUZZ_CHECK(ip->destination == peer_ip);
  const auto l4 = reply.subspan(ipv4_header::min_size);
  if (wire::load_be16(&d[2]) == echo_port) {
    FUZZ_CHECK(ip->protocol == 17 && l4.size() == length);
    FUZZ_CHECK(wire::load_be16(&l4[0]) == echo_port && wire::load_be16(&l4[2]) == wire::load_be16(&d[0]));
    FUZZ_CHECK(std::memcmp(l4.data() + 8, dgram.data() + 8, length - 8) == 0);
  } else {
    FUZZ_CHECK(ip->protocol == 1 && l4[0] == 3 && l4[1] == 3);
    FUZZ_CHECK(l4.size() == 8 + 20 + std::min<std::size_t>(8, d.size()));
    FUZZ_CHECK(std::memcmp(l4.data() + 28, dgram.data(), l4.size() - 28) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  const ipv4_address src{wire::load_be32(data)}, dst{wire::load_be32(data + 4)};
  const std::span<const std::uint8_t> d(data + 8, size - 8);
  check_parser(src, dst, d);
  check_stack(d);
  return 0;
}
