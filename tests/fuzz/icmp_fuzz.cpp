// tests/fuzz/icmp_fuzz.cpp: libFuzzer target for ICMP (RFC 792, uni/net/icmp.hpp)
// and the stack's echo reply. The input is an ICMP message (the IP payload).
//   1. icmp_header::parse, given the message cut into fragments at every place a
//      reassembled datagram could be cut, accepts it exactly when the first
//      fragment holds 8 bytes and the checksum over all of it is right, with the
//      fields where RFC 792 puts them; emit() over the same data makes a message
//      that parses back to the same header;
//   2. the message (checksum made right, so the fuzzer reaches the logic) goes
//      to a stack in an IPv4 packet from a known peer: an echo request (type 8,
//      code 0) gets exactly one echo reply, with the request's identifier,
//      sequence and data and a correct checksum, although the stack updated it
//      incrementally (RFC 1624) instead of computing it; nothing else is answered.
#include <cstring>
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

namespace {

void check_parser(std::span<const std::uint8_t> msg) {
  std::vector<std::uint8_t> copy(msg.begin(), msg.end());
  const view whole = view::unowned(std::span<std::uint8_t>(copy));
  const bool valid = msg.size() >= icmp_header::size && internet_checksum(msg) == 0;
  // Cut after the header, then every 8 bytes (fragment boundaries), up to a chain's capacity.
  std::vector<view> frags;
  for (std::size_t at = 0; at < msg.size() && frags.size() + 1 < view_chain::capacity;) {
    const std::size_t n = at == 0 ? std::min<std::size_t>(msg.size(), icmp_header::size) : 8;
    frags.push_back(whole.tail(at).head(n));
    at += n;
    if (frags.size() + 1 == view_chain::capacity) frags.push_back(whole.tail(at));
  }
  for (std::span<const view> in : {std::span<const view>(&whole, 1), std::span<const view>(frags)}) {
    auto h = icmp_header::parse(in);
    FUZZ_CHECK(h.ok() == valid);
    if (!h) continue;
    FUZZ_CHECK(h->type == msg[0] && h->code == msg[1] && h->checksum == wire::load_be16(&msg[2]) &&
               h->rest == wire::load_be32(&msg[4]));
    std::uint8_t out[icmp_header::size];
    const view data = whole.tail(icmp_header::size);
    h->emit(out, std::span<const view>(&data, 1));
    const view head = view::unowned(std::span<std::uint8_t>(out));
    const view again[] = {head, data};
    auto back = icmp_header::parse(again);
    FUZZ_CHECK(back.ok() && back->type == h->type && back->code == h->code && back->rest == h->rest);
  }
}

void check_echo(std::span<const std::uint8_t> msg) {
  stack_harness h;
  const arp_packet hello{arp_op::reply, peer_mac, peer_ip, our_mac, our_ip};
  std::uint8_t b[arp_packet::size];
  hello.emit(b);
  h.inject(ethernet_frame(our_mac, peer_mac, ethertype::arp, b));

  auto packet = ipv4_packet(peer_ip, our_ip, ip_protocol::icmp, msg);
  if (packet.size() > 1500) return;
  fix_transport_checksum(packet);
  const std::span<const std::uint8_t> request = std::span(packet).subspan(ipv4_header::min_size);
  if (!h.inject(ethernet_frame(our_mac, peer_mac, ethertype::ipv4, packet))) return;
  auto sent = h.take_sent();
  const bool echo_request = request.size() >= icmp_header::size && request[0] == 8 && request[1] == 0;
  FUZZ_CHECK(sent.size() == (echo_request ? 1u : 0u));
  if (!echo_request) return;
  // check_outgoing verified the IPv4 header and the ICMP checksum.
  const auto reply = std::span<const std::uint8_t>(sent[0]).subspan(ethernet_view::header_size + ipv4_header::min_size);
  FUZZ_CHECK(std::memcmp(sent[0].data(), peer_mac.bytes.data(), 6) == 0);
  FUZZ_CHECK(reply.size() == request.size() && reply[0] == 0 && reply[1] == 0);
  FUZZ_CHECK(std::memcmp(reply.data() + 4, request.data() + 4, request.size() - 4) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  check_parser(in);
  check_echo(in);
  return 0;
}
