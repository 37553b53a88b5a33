// tests/fuzz/tcp_segment_fuzz.cpp: libFuzzer target for the TCP header and its
// options (uni/net/tcp/segment.hpp). The input is a TCP segment; its checksum
// is made right first unless the first byte's low bit says otherwise, so the
// fuzzer reaches the option parser. A segment that parses is emitted again
// and must parse to the same fields (a round trip); lengths stay in the input.
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool keep_checksum = data[0] & 1;
  std::vector<std::uint8_t> seg(data + 1, data + size);
  if (!keep_checksum && seg.size() >= tcp::header::min_size) {
    seg[16] = seg[17] = 0;
    checksum_accumulator acc;
    add_pseudo_header(acc, peer_ip, our_ip, ip_protocol::tcp, seg.size());
    acc.add(seg);
    wire::store_be16(&seg[16], acc.finish());
  }
  view v = view::unowned(std::span<const std::uint8_t>(seg));
  tcp::header::reject why{};
  auto h = tcp::header::parse(std::span<const view>(&v, 1), peer_ip, our_ip, &why);
  if (!h) return 0;
  FUZZ_CHECK(h->header_length >= tcp::header::min_size && h->header_length <= seg.size());
  FUZZ_CHECK(h->opts.sack_count <= h->opts.sack.size());
  if (h->opts.window_scale) FUZZ_CHECK(*h->opts.window_scale <= 14);
  // Round trip: what we emit from the parsed header parses to the same header.
  // (Our layout pads each option to words: SACK blocks that no longer fit in
  // 40 bytes are left out, as the connection does.)
  tcp::header out = *h;
  while (out.opts.wire_size() > tcp::header::max_size - tcp::header::min_size && out.opts.sack_count > 0)
    --out.opts.sack_count;
  std::vector<std::uint8_t> buf(tcp::header::min_size + out.opts.wire_size());
  FUZZ_CHECK(buf.size() <= tcp::header::max_size);
  const std::size_t n = out.emit(buf, peer_ip, our_ip, {});
  FUZZ_CHECK(n == buf.size());
  view w = view::unowned(std::span<const std::uint8_t>(buf));
  auto again = tcp::header::parse(std::span<const view>(&w, 1), peer_ip, our_ip);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->source_port == out.source_port && again->destination_port == out.destination_port);
  FUZZ_CHECK(again->seq == out.seq && again->ack_number == out.ack_number && again->flags == out.flags);
  FUZZ_CHECK(again->window == out.window && again->opts.mss == out.opts.mss);
  FUZZ_CHECK(again->opts.window_scale == out.opts.window_scale && again->opts.timestamps == out.opts.timestamps);
  FUZZ_CHECK(again->opts.sack_permitted == out.opts.sack_permitted && again->opts.sack_count == out.opts.sack_count);
  for (std::size_t i = 0; i < out.opts.sack_count; ++i)
    FUZZ_CHECK(again->opts.sack[i].left == out.opts.sack[i].left && again->opts.sack[i].right == out.opts.sack[i].right);
  return 0;
}
