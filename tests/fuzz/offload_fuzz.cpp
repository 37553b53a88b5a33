// tests/fuzz/offload_fuzz.cpp: libFuzzer target for the receive side of the
// segmentation offload (uni/net/offload.hpp) as TapNetif drives it: a virtio
// header (uni/net/virtio_net_header.hpp) and the frame read after it.
// Input: [10 bytes virtio_net_hdr][2 bytes: where the frame's first piece ends,
// big-endian][the frame].
//   1. classify() refuses exactly what is malformed, and its reason is true
//      (gso_size 0, hdr_len past the frame, csum_start/offset out of range, an
//      unknown GSO type, an unmerged frame over a page);
//   2. a partial checksum completed in place sums, with the pseudo-header sum
//      the field held, to zero (when the field is 16-bit aligned to csum_start);
//   3. a merged frame the segmenter accepts is cut into segments of at most
//      gso_size payload bytes and one page, whose IPv4 and TCP checksums verify
//      from scratch, whose sequence numbers and IDs advance, and whose payloads
//      are the frame's, in order, every byte once;
//   4. if the frame's headers are ones the transmit batch merges, the segments
//      merge back, and the frame they make is the original's bytes (length and
//      checksums recomputed);
//   5. the same frame laid out in pages as TapNetif reads it (deliver_paged_segments)
//      is accepted exactly when the filling cut accepts it, and gives segments of
//      one page at most, checksums right, whose payloads are the frame's in
//      order, each where the read put it; every page back in the pool.
#include <algorithm>
#include <vector>

#include <uni/core/buffer.hpp>
#include <uni/net/offload.hpp>
#include <uni/net/virtio_net_header.hpp>

#include "fuzz_support.hpp"

using namespace uni;

namespace {

std::uint16_t fold(std::uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

// The TCP checksum of a segment, from scratch: the RFC 9293 pseudo-header, then the segment.
bool tcp_ok(const std::vector<std::uint8_t>& s, std::size_t ihl) {
  std::uint32_t sum = 0;
  auto add = [&](std::uint8_t hi, std::uint8_t lo) { sum += static_cast<std::uint32_t>(hi << 8 | lo); };
  for (std::size_t i = 26; i < 34; i += 2) add(s[i], s[i + 1]);
  const std::size_t len = s.size() - 14 - ihl;
  sum += 6;
  sum += static_cast<std::uint32_t>(len);
  for (std::size_t i = 14 + ihl; i < s.size(); i += 2) add(s[i], i + 1 < s.size() ? s[i + 1] : 0);
  return fold(sum) == 0xffff;
}

void check_partial(std::span<const std::uint8_t> frame, const offload_info& info) {
  std::vector<std::uint8_t> f(frame.begin(), frame.end());
  FUZZ_CHECK(offload::complete_partial_checksum(f, info));
  if (info.csum_offset % 2 != 0) return;  // an odd field sums byte-swapped: nothing simple to check
  const std::size_t at = std::size_t{info.csum_start} + info.csum_offset;
  const std::uint16_t held = wire::load_be16(&frame[at]);
  checksum_accumulator acc;
  acc.add(std::span<const std::uint8_t>(f).subspan(info.csum_start));
  FUZZ_CHECK(fold(std::uint32_t{acc.folded()} + held) == 0xffff);
}

// `filling`: cut as the drivers cut (parse_filling: every segment but the last
// fills its page), else into the sender's segments of gso_size.
void check_merged(std::span<const std::uint8_t> frame, std::size_t head, const offload_info& info, bool filling) {
  offload::frame_parts parts{frame.first(head), frame.subspan(head)};
  offload::rx_reject why{};
  auto cut = filling ? offload::tcp_segmenter::parse_filling(parts, info.gso_size, page_size, &why)
                     : offload::tcp_segmenter::parse(parts, info.gso_size, page_size, &why);
  if (!cut) {
    FUZZ_CHECK(why == offload::rx_reject::headers || why == offload::rx_reject::segment_size);
    return;
  }
  const std::size_t hl = cut->header_length();
  const std::size_t ihl = (frame[14] & 0x0fu) * 4;
  const std::uint32_t seq0 = wire::load_be32(&frame[14 + ihl + 4]);
  const std::uint16_t id0 = wire::load_be16(&frame[18]);
  FUZZ_CHECK(hl < frame.size() && hl <= head && cut->count() >= 1);
  std::vector<std::vector<std::uint8_t>> segments;
  std::size_t off = hl;
  for (std::size_t i = 0; i < cut->count(); ++i) {
    std::vector<std::uint8_t> s(cut->segment_size(i));
    FUZZ_CHECK(s.size() > hl && s.size() <= page_size && (filling || s.size() - hl <= info.gso_size));
    FUZZ_CHECK(!filling || i + 1 == cut->count() || s.size() == page_size);
    cut->write(i, s, true);
    FUZZ_CHECK(internet_checksum({s.data() + 14, ihl}) == 0);
    FUZZ_CHECK(tcp_ok(s, ihl));
    FUZZ_CHECK(wire::load_be16(&s[16]) == s.size() - 14);
    FUZZ_CHECK(wire::load_be16(&s[18]) == static_cast<std::uint16_t>(id0 + i));
    FUZZ_CHECK(wire::load_be32(&s[14 + ihl + 4]) == seq0 + static_cast<std::uint32_t>(off - hl));
    FUZZ_CHECK(std::equal(s.begin() + static_cast<long>(hl), s.end(), frame.begin() + static_cast<long>(off)));
    off += s.size() - hl;
    segments.push_back(std::move(s));
  }
  FUZZ_CHECK(off == frame.size());

  // Headers the transmit side merges: IPv4 without options or fragment bits, ACK or ACK|PSH.
  const std::uint8_t flags = frame[14 + ihl + 13];
  const bool mergeable = frame[14] == 0x45 && (wire::load_be16(&frame[20]) & 0x3fff) == 0 && (flags & ~0x08) == 0x10;
  constexpr std::size_t max_views = 64;
  if (!mergeable || segments.size() > max_views || frame.size() - hl > offload::tcp_gso_batch<max_views>::max_bytes) return;
  auto batch = std::make_unique<offload::tcp_gso_batch<max_views>>();
  bool handed_over = false;  // add() gave the held segments to be written: it must merge these
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const view v = view::unowned(std::span<const std::uint8_t>(segments[i]));
    const std::span<const view> frags{&v, 1};
    // start, then add() (TAP's way) and merge() (netfront's) in turn.
    FUZZ_CHECK(i == 0   ? batch->start(frags, v.size())
               : i % 2 ? batch->add(frags, v.size(), [&] { handed_over = true; })
                       : batch->merge(frags, v.size()));
  }
  FUZZ_CHECK(!handed_over);
  const offload_info out = batch->finish();
  FUZZ_CHECK(segments.size() == 1 || (out.gso == gso_kind::tcpv4 && out.gso_size == segments[0].size() - hl));
  std::vector<std::uint8_t> again(batch->header().begin(), batch->header().end());
  for (const view& v : batch->payload()) again.insert(again.end(), v.data(), v.data() + v.size());
  FUZZ_CHECK(again.size() == frame.size());
  // Equal but for the IPv4 length and checksum and the TCP checksum.
  for (std::size_t i = 0; i < again.size(); ++i) {
    if ((i >= 16 && i < 18) || (i >= 24 && i < 26) || (i >= 50 && i < 52)) continue;
    FUZZ_CHECK(again[i] == frame[i]);
  }
  batch->clear();
}

// The frame in pages as a readv leaves it: the first page whole, then each
// from offload::paged_room on.
void check_paged(std::span<const std::uint8_t> frame, const offload_info& info) {
  static static_page_pool<20> pool;
  const std::size_t k = offload::paged_pages(frame.size());
  if (k > 17) return;  // larger than a TAP read takes
  {
    std::vector<view> pages;
    std::vector<const std::uint8_t*> payload_at;
    for (std::size_t i = 0, at = 0; i < k; ++i) {
      auto page = pool.allocate();
      FUZZ_CHECK(page.ok());
      const std::size_t room = i == 0 ? 0 : offload::paged_room;
      const std::size_t n = std::min(page_size - room, frame.size() - at);
      std::memcpy(page->data() + room, frame.data() + at, n);
      payload_at.push_back(page->data() + room);
      at += n;
      pages.push_back(std::move(*page));
    }
    offload::rx_reject why{};
    std::vector<std::vector<std::uint8_t>> got;
    std::vector<const std::uint8_t*> where;
    const bool ok = offload::deliver_paged_segments(pages, frame.size(), info.gso_size, true, &why, [&](view v) {
      FUZZ_CHECK(v.size() <= page_size && v.checksum_verified());
      got.emplace_back(v.data(), v.data() + v.size());
      where.push_back(v.data());
    });
    const bool filling = offload::tcp_segmenter::parse_filling({frame.first(std::min(frame.size(), page_size)), frame.subspan(std::min(frame.size(), page_size))},
                                                               info.gso_size, page_size).ok();
    FUZZ_CHECK(ok == filling);
    if (ok) {
      FUZZ_CHECK(got.size() == k);
      const std::size_t ihl = (frame[14] & 0x0fu) * 4;
      const std::size_t hl = 14 + ihl + (frame[14 + ihl + 12] >> 4) * 4;
      std::size_t off = hl;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const auto& s = got[i];
        FUZZ_CHECK(s.size() > hl && internet_checksum({s.data() + 14, ihl}) == 0 && tcp_ok(s, ihl));
        FUZZ_CHECK(wire::load_be16(&s[16]) == s.size() - 14);
        FUZZ_CHECK(std::equal(s.begin() + static_cast<long>(hl), s.end(), frame.begin() + static_cast<long>(off)));
        FUZZ_CHECK(where[i] + hl == payload_at[i] + (i == 0 ? hl : 0));  // not moved
        off += s.size() - hl;
      }
      FUZZ_CHECK(off == frame.size());
    }
  }
  FUZZ_CHECK(pool.available() == 20);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 12) return 0;
  std::uint8_t vh[10];
  std::memcpy(vh, data, sizeof vh);
  const offload_info info = virtio_net_header_view::parse(vh)->to_info();
  const std::span<const std::uint8_t> frame{data + 12, size - 12};
  const std::size_t head = std::min<std::size_t>(wire::load_be16(data + 10), frame.size());
  const std::size_t n = frame.size();

  offload::rx_reject why{};
  auto kind = offload::classify(info, n, page_size, &why);
  if (!kind) {
    switch (why) {
      case offload::rx_reject::hdr_len: FUZZ_CHECK(info.hdr_len > n); break;
      case offload::rx_reject::gso_size: FUZZ_CHECK(info.gso == gso_kind::tcpv4 && info.gso_size == 0); break;
      case offload::rx_reject::gso_type: FUZZ_CHECK(info.gso == gso_kind::unknown); break;
      case offload::rx_reject::too_long: FUZZ_CHECK(info.gso == gso_kind::none && n > page_size); break;
      case offload::rx_reject::csum_range: FUZZ_CHECK(info.csum_partial && !offload::partial_checksum_fits(info, n)); break;
      default: FUZZ_CHECK(false);  // a segmenter's reason
    }
    offload::offload_rejects counts;
    counts.count(why);
    FUZZ_CHECK(counts.total() == 1);
    return 0;
  }
  FUZZ_CHECK(info.hdr_len <= n);
  switch (*kind) {
    case offload::rx_kind::merged:
      check_merged(frame, head, info, true);
      check_merged(frame, head, info, false);
      check_paged(frame, info);
      break;
    case offload::rx_kind::partial: check_partial(frame, info); break;
    case offload::rx_kind::verified: FUZZ_CHECK(info.csum_valid && !info.csum_partial); break;
    case offload::rx_kind::plain: FUZZ_CHECK(!info.csum_valid && !info.csum_partial && info.gso == gso_kind::none); break;
  }
  return 0;
}
