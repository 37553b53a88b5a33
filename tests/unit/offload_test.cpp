// TCP segmentation and checksum offload (uni/net/offload.hpp) and the virtio
// header (uni/net/virtio_net_header.hpp). Segments are built by hand
// (frames.hpp); every checksum is checked by summing from scratch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <vector>

#include <uni/core/buffer.hpp>
#include <uni/net/offload.hpp>
#include <uni/net/tcp/segment.hpp>
#include <uni/net/virtio_net_header.hpp>

#include "frames.hpp"

using namespace uni;
using frames::bytes;

namespace {

const mac_address mac_a{{0x02, 0, 0, 0, 0, 1}}, mac_b{{0x02, 0, 0, 0, 0, 2}};
const ipv4_address ip_a{0x0a000001}, ip_b{0x0a000002};

struct flow {
  std::uint32_t seq = 1000;
  std::uint16_t id = 0x4000;
  std::uint16_t sport = 40000, dport = 80;
};

// One Ethernet/IPv4/TCP segment with every checksum right.
bytes segment(const flow& f, std::uint32_t seq, std::uint16_t id, std::uint8_t flags, const bytes& data,
              const bytes& options = {}) {
  frames::tcp_fields t;
  t.sport = f.sport;
  t.dport = f.dport;
  t.seq = seq;
  t.ack = 77;
  t.flags = flags;
  t.window = 5000;
  t.options = options;
  frames::ip_fields ip;
  ip.src = ip_a;
  ip.dst = ip_b;
  ip.protocol = 6;
  ip.id = id;
  ip.flags_fragment = 0x4000;  // DF
  return frames::ethernet(mac_b, mac_a, 0x0800, frames::ipv4(ip, frames::tcp(ip_a, ip_b, t, data)));
}

// The TCP checksum of `frame` (Ethernet + IPv4 + TCP) is right: pseudo-header and segment sum to 0.
bool tcp_checksum_ok(const std::uint8_t* frame, std::size_t n) {
  const std::size_t ihl = (frame[14] & 0x0f) * 4u;
  const std::size_t tcp_len = n - 14 - ihl;
  bytes pseudo(frame + 26, frame + 34);
  frames::put16(pseudo, 6);
  frames::put16(pseudo, static_cast<std::uint16_t>(tcp_len));
  pseudo.insert(pseudo.end(), frame + 14 + ihl, frame + n);
  return internet_checksum(pseudo) == 0;
}
bool ipv4_checksum_ok(const std::uint8_t* frame) { return internet_checksum({frame + 14, (frame[14] & 0x0fu) * 4u}) == 0; }

struct pool_fixture {
  std::unique_ptr<static_page_pool<64>> pool = std::make_unique<static_page_pool<64>>();
  view copy(const std::uint8_t* p, std::size_t n) {
    auto page = pool->allocate();
    REQUIRE(page.ok());
    std::memcpy(page->data(), p, n);
    return page->head(n);
  }
  // A frame as the stack gives it: headers in one view, the payload in two more.
  std::vector<view> fragments(const bytes& f, std::size_t headers) {
    const std::size_t half = headers + (f.size() - headers) / 2;
    return {copy(f.data(), headers), copy(f.data() + headers, half - headers), copy(f.data() + half, f.size() - half)};
  }
};

// The frame a GSO batch describes, one buffer.
template <std::size_t N>
bytes merged_frame(const offload::tcp_gso_batch<N>& b) {
  bytes out(b.header().begin(), b.header().end());
  for (const view& v : b.payload()) out.insert(out.end(), v.data(), v.data() + v.size());
  return out;
}

std::vector<bytes> cut(const bytes& frame, std::size_t mss, bool checksum, std::size_t head = 4096) {
  head = std::min(head, frame.size());
  offload::frame_parts parts{{frame.data(), head}, {frame.data() + head, frame.size() - head}};
  auto s = offload::tcp_segmenter::parse(parts, mss, page_size);
  REQUIRE(s.ok());
  std::vector<bytes> out;
  for (std::size_t i = 0; i < s->count(); ++i) {
    bytes seg(s->segment_size(i));
    s->write(i, seg, checksum);
    out.push_back(seg);
  }
  return out;
}

}  // namespace

TEST_CASE("GSO: back-to-back segments merge into one frame that cuts back into the same segments", "[offload]") {
  pool_fixture px;
  const flow f;
  const std::size_t mss = 1000;
  std::vector<bytes> sent;
  for (std::size_t i = 0; i < 5; ++i) {
    const std::size_t len = i == 4 ? 321 : mss;  // the last one short
    const auto flags = static_cast<std::uint8_t>(0x10 | (i == 4 ? 0x08 : 0));
    sent.push_back(segment(f, f.seq + static_cast<std::uint32_t>(i * mss), static_cast<std::uint16_t>(f.id + i), flags,
                           frames::pattern(len, static_cast<std::uint8_t>(i))));
  }
  offload::tcp_gso_batch<16> batch;
  auto first = px.fragments(sent[0], 54);
  REQUIRE(batch.start(first, sent[0].size()));
  for (std::size_t i = 1; i < sent.size(); ++i) {
    auto frags = px.fragments(sent[i], 54);
    REQUIRE(batch.merge(frags, sent[i].size()));
  }
  CHECK(batch.segments() == 5);
  const offload_info info = batch.finish();
  CHECK(info.gso == gso_kind::tcpv4);
  CHECK(info.csum_partial);
  CHECK(info.gso_size == mss);
  CHECK(info.hdr_len == 54);
  CHECK(info.csum_start == 34);
  CHECK(info.csum_offset == 16);

  bytes merged = merged_frame(batch);
  REQUIRE(merged.size() == 54 + 4 * mss + 321);
  CHECK(frames::get16(merged, 16) == merged.size() - 14);  // one datagram of every byte
  CHECK(ipv4_checksum_ok(merged.data()));
  CHECK((merged[47] & 0x08) != 0);  // PSH, as the last segment had it
  // The TCP checksum field holds the pseudo-header's sum, not complemented.
  bytes pseudo(merged.begin() + 26, merged.begin() + 34);
  frames::put16(pseudo, 6);
  frames::put16(pseudo, static_cast<std::uint16_t>(merged.size() - 34));
  CHECK(frames::get16(merged, 50) == static_cast<std::uint16_t>(~internet_checksum(pseudo)));

  // What the kernel does with it: cuts it at gso_size, each segment checksummed.
  const auto segments = cut(merged, info.gso_size, true);
  REQUIRE(segments.size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) CHECK(segments[i] == sent[i]);

  // And a partial checksum completed in place is the checksum of the whole.
  bytes whole = merged;
  REQUIRE(offload::complete_partial_checksum(whole, info));
  CHECK(tcp_checksum_ok(whole.data(), whole.size()));
}

TEST_CASE("GSO receive: a merged frame across a page cuts into segments a batch merges back", "[offload]") {
  pool_fixture px;
  const flow f;
  const bytes data = frames::pattern(9000, 3);
  bytes merged = segment(f, f.seq, f.id, 0x18, data);  // PSH|ACK over all 9000 bytes
  const std::size_t mss = 1448;
  // The first page holds 4096 bytes, the rest went elsewhere (TapNetif's big buffer).
  const auto segments = cut(merged, mss, true, 4096);
  REQUIRE(segments.size() == 7);
  bytes joined;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const bytes& s = segments[i];
    CHECK(ipv4_checksum_ok(s.data()));
    CHECK(tcp_checksum_ok(s.data(), s.size()));
    CHECK(frames::get16(s, 18) == f.id + i);
    CHECK(frames::get32(s, 38) == f.seq + i * mss);
    CHECK(((s[47] & 0x08) != 0) == (i == segments.size() - 1));
    joined.insert(joined.end(), s.begin() + 54, s.end());
  }
  CHECK(joined == data);

  offload::tcp_gso_batch<32> batch;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    auto frags = px.fragments(segments[i], 54);
    REQUIRE((i == 0 ? batch.start(frags, segments[i].size()) : batch.merge(frags, segments[i].size())));
  }
  const offload_info info = batch.finish();
  bytes again = merged_frame(batch);
  REQUIRE(offload::complete_partial_checksum(again, info));
  CHECK(again == merged);  // the same frame, checksums and all
}

TEST_CASE("GRO: a merged frame cuts into page-filling segments of the same bytes, flags kept", "[offload]") {
  const flow f;
  const bytes data = frames::pattern(60000, 5);
  const bytes merged = segment(f, f.seq, f.id, 0x80 | 0x18 | 0x01, data);  // CWR|PSH|ACK|FIN
  const std::size_t mss = 1448;
  offload::frame_parts parts{{merged.data(), 4096}, {merged.data() + 4096, merged.size() - 4096}};
  auto s = offload::tcp_segmenter::parse_filling(parts, mss, page_size);
  REQUIRE(s.ok());
  const std::size_t per = page_size - 54;  // each fills its page
  REQUIRE(s->count() == (data.size() + per - 1) / per);
  CHECK(s->count() < (data.size() + mss - 1) / mss);
  bytes joined;
  for (std::size_t i = 0; i < s->count(); ++i) {
    bytes seg(s->segment_size(i));
    s->write(i, seg, true);
    REQUIRE(seg.size() <= page_size);
    CHECK(seg.size() == (i + 1 < s->count() ? page_size : 54 + data.size() - i * per));
    CHECK(ipv4_checksum_ok(seg.data()));
    CHECK(tcp_checksum_ok(seg.data(), seg.size()));
    CHECK(frames::get16(seg, 16) == seg.size() - 14);
    CHECK(frames::get32(seg, 38) == f.seq + i * per);
    const bool last = i + 1 == s->count();
    CHECK(seg[47] == ((i == 0 ? 0x80 : 0) | 0x10 | (last ? 0x08 | 0x01 : 0)));
    joined.insert(joined.end(), seg.begin() + 54, seg.end());
  }
  CHECK(joined == data);
  // What the sender's segments could not fit, the filling cut refuses as well.
  offload::rx_reject why{};
  CHECK_FALSE(offload::tcp_segmenter::parse_filling(parts, page_size - 53, page_size, &why).ok());
  CHECK(why == offload::rx_reject::segment_size);
}

TEST_CASE("GRO into pages: each page a segment, its headers written in front of its payload, nothing moved", "[offload]") {
  pool_fixture px;
  const flow f;
  const bytes data = frames::pattern(60000, 7);
  const bytes merged = segment(f, f.seq, f.id, 0x80 | 0x18 | 0x01, data);  // CWR|PSH|ACK|FIN
  // Laid out as a readv into pages leaves it: the first page whole, then each
  // page from paged_room on.
  const std::size_t k = offload::paged_pages(merged.size());
  REQUIRE(k == 16);
  std::vector<view> pages;
  std::size_t at = 0;
  for (std::size_t i = 0; i < k; ++i) {
    auto page = px.pool->allocate();
    REQUIRE(page.ok());
    const std::size_t room = i == 0 ? 0 : offload::paged_room;
    const std::size_t n = std::min(page_size - room, merged.size() - at);
    std::memcpy(page->data() + room, merged.data() + at, n);
    at += n;
    pages.push_back(std::move(*page));
  }
  std::vector<const std::uint8_t*> payload_at;
  for (std::size_t i = 0; i < k; ++i) payload_at.push_back(pages[i].data() + (i == 0 ? 54 : offload::paged_room));
  std::vector<view> got;
  offload::rx_reject why{};
  REQUIRE(offload::deliver_paged_segments(pages, merged.size(), 1448, true, &why, [&](view v) { got.push_back(std::move(v)); }));
  REQUIRE(got.size() == k);
  bytes joined;
  std::uint32_t seq = f.seq;
  for (std::size_t i = 0; i < k; ++i) {
    const bytes seg(got[i].data(), got[i].data() + got[i].size());
    CHECK(got[i].data() + 54 == payload_at[i]);  // the payload where the read put it
    CHECK(got[i].checksum_verified());
    CHECK(ipv4_checksum_ok(seg.data()));
    CHECK(tcp_checksum_ok(seg.data(), seg.size()));
    CHECK(frames::get16(seg, 16) == seg.size() - 14);
    CHECK(frames::get16(seg, 18) == f.id + i);
    CHECK(frames::get32(seg, 38) == seq);
    const bool last = i + 1 == k;
    CHECK(seg[47] == ((i == 0 ? 0x80 : 0) | 0x10 | (last ? 0x08 | 0x01 : 0)));
    seq += static_cast<std::uint32_t>(seg.size() - 54);
    joined.insert(joined.end(), seg.begin() + 54, seg.end());
  }
  CHECK(joined == data);
  for (const view& v : pages) CHECK(v.size() == 0);  // every page went into a segment
  // Fewer pages than the frame takes, or a frame that is not TCP/IPv4: refused.
  std::vector<view> few(2);
  for (auto& v : few) v = std::move(*px.pool->allocate());
  CHECK_FALSE(offload::deliver_paged_segments(few, merged.size(), 1448, false, &why, [](view) { FAIL("delivered"); }));
  CHECK(why == offload::rx_reject::too_long);
  std::memset(few[0].data() + 12, 0x86, 2);  // not IPv4
  CHECK_FALSE(offload::deliver_paged_segments(few, 3000, 1448, false, &why, [](view) { FAIL("delivered"); }));
  CHECK(why == offload::rx_reject::headers);
}

TEST_CASE("segments cut from a merged frame keep FIN and PSH on the last, CWR on the first", "[offload]") {
  const flow f;
  bytes merged = segment(f, f.seq, f.id, 0x80 | 0x10 | 0x08 | 0x01, frames::pattern(2500));
  const auto segments = cut(merged, 1000, false);
  REQUIRE(segments.size() == 3);
  CHECK(segments[0][47] == (0x80 | 0x10));
  CHECK(segments[1][47] == 0x10);
  CHECK(segments[2][47] == (0x10 | 0x08 | 0x01));
  // Without `checksum`, the TCP checksum field is the merged frame's (the device vouches).
  for (const bytes& s : segments) CHECK(frames::get16(s, 50) == frames::get16(merged, 50));
}

TEST_CASE("the GSO batch merges only the same flow's next full-sized data segment", "[offload]") {
  pool_fixture px;
  const flow f;
  const bytes first = segment(f, f.seq, f.id, 0x10, frames::pattern(1000));
  auto start = [&](offload::tcp_gso_batch<16>& b) {
    auto frags = px.fragments(first, 54);
    REQUIRE(b.start(frags, first.size()));
  };
  auto merges = [&](const bytes& next) {
    offload::tcp_gso_batch<16> b;
    start(b);
    auto frags = px.fragments(next, 54);
    return b.merge(frags, next.size());
  };
  CHECK(merges(segment(f, f.seq + 1000, f.id + 1, 0x10, frames::pattern(1000))));
  CHECK(merges(segment(f, f.seq + 1000, f.id + 1, 0x18, frames::pattern(10))));     // PSH, shorter: fine
  CHECK_FALSE(merges(segment(f, f.seq + 999, f.id + 1, 0x10, frames::pattern(1000))));  // not the next byte
  CHECK_FALSE(merges(segment(f, f.seq + 1000, f.id + 1, 0x10, frames::pattern(1001))));  // longer than the first
  CHECK_FALSE(merges(segment(f, f.seq + 1000, f.id + 1, 0x11, frames::pattern(1000))));  // FIN
  flow other = f;
  other.sport = 40001;
  CHECK_FALSE(merges(segment(other, f.seq + 1000, f.id + 1, 0x10, frames::pattern(1000))));  // another flow
  CHECK_FALSE(merges(segment(f, f.seq + 1000, f.id + 1, 0x10, frames::pattern(1000), {1, 1, 1, 1})));  // options differ

  offload::tcp_gso_batch<16> b;
  start(b);
  auto shorter = px.fragments(segment(f, f.seq + 1000, f.id + 1, 0x10, frames::pattern(500)), 54);
  REQUIRE(b.merge(shorter, 54 + 500));
  auto after = px.fragments(segment(f, f.seq + 1500, f.id + 2, 0x10, frames::pattern(500)), 54);
  CHECK_FALSE(b.merge(after, 54 + 500));  // nothing after a short segment
  CHECK(b.segments() == 2);

  offload::tcp_gso_batch<16> syn;
  auto s = px.fragments(segment(f, f.seq, f.id, 0x12, frames::pattern(100)), 54);
  CHECK_FALSE(syn.start(s, 54 + 100));
  CHECK(syn.empty());
  CHECK(syn.finish().gso == gso_kind::none);
}

TEST_CASE("the GSO batch's add() merges a flow's next segment and hands over the held ones before another flow's", "[offload]") {
  pool_fixture px;
  const flow f;
  flow other = f;
  other.sport = 40001;
  const bytes a1 = segment(f, f.seq, f.id, 0x10, frames::pattern(1000));
  const bytes a2 = segment(f, f.seq + 1000, f.id + 1, 0x18, frames::pattern(300));
  const bytes b1 = segment(other, 5000, 7, 0x18, frames::pattern(700));
  const bytes syn = segment(f, f.seq, f.id, 0x12, frames::pattern(100));
  offload::tcp_gso_batch<16> b;
  std::vector<bytes> sent;  // what send_held() wrote, as one frame each
  auto send_held = [&] {
    (void)b.finish();
    sent.push_back(merged_frame(b));
    b.clear();
  };
  auto add = [&](const bytes& s) {
    auto frags = px.fragments(s, 54);
    return b.add(frags, s.size(), send_held);
  };
  REQUIRE(add(a1));
  REQUIRE(add(a2));  // merged: nothing sent
  CHECK(sent.empty());
  CHECK(b.segments() == 2);
  REQUIRE(add(b1));  // another flow: the two held leave first, as one frame
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].size() == 54 + 1300);
  CHECK(b.segments() == 1);
  CHECK(merged_frame(b) == b1);  // its headers parsed once, kept whole while the others were written
  CHECK_FALSE(add(syn));  // not data: what is held leaves, and the batch is empty
  REQUIRE(sent.size() == 2);
  CHECK(sent[1] == b1);
  CHECK(b.empty());
}

TEST_CASE("a lone segment leaves as it came, with an all-zero virtio header", "[offload]") {
  pool_fixture px;
  const flow f;
  const bytes one = segment(f, f.seq, f.id, 0x10, frames::pattern(700));
  offload::tcp_gso_batch<16> b;
  auto frags = px.fragments(one, 54);
  REQUIRE(b.start(frags, one.size()));
  const offload_info info = b.finish();
  CHECK(merged_frame(b) == one);
  std::uint8_t vh[10];
  std::memset(vh, 0xff, sizeof vh);
  virtio_net_header_view::emit(vh, info);
  for (std::uint8_t x : vh) CHECK(x == 0);
}

TEST_CASE("virtio_net_hdr fields round-trip through offload_info", "[offload]") {
  offload_info i;
  i.csum_partial = true;
  i.gso = gso_kind::tcpv4;
  i.hdr_len = 66;
  i.gso_size = 1448;
  i.csum_start = 34;
  i.csum_offset = 16;
  std::uint8_t b[10];
  virtio_net_header_view::emit(b, i);
  auto v = virtio_net_header_view::parse(b);
  REQUIRE(v.ok());
  CHECK(v->flags() == virtio_net_header_view::needs_csum);
  CHECK(v->gso_type() == virtio_net_header_view::gso_tcpv4);
  CHECK(v->gso_size() == 1448);
  const offload_info back = v->to_info();
  CHECK(back.csum_partial);
  CHECK_FALSE(back.csum_valid);
  CHECK(back.gso == gso_kind::tcpv4);
  CHECK(back.hdr_len == 66);
  CHECK(back.csum_start == 34);
  CHECK(back.csum_offset == 16);
  std::uint8_t short_buf[9] = {};
  CHECK_FALSE(virtio_net_header_view::parse(short_buf).ok());
  b[1] = 0x81;  // TCPv4 with ECN: not asked for
  CHECK(virtio_net_header_view::parse(b)->to_info().gso == gso_kind::unknown);
}

TEST_CASE("malformed virtio headers are refused with a reason, counted", "[offload]") {
  offload::offload_rejects counts;
  auto refuse = [&](const offload_info& i, std::size_t n) {
    offload::rx_reject why{};
    auto k = offload::classify(i, n, page_size, &why);
    REQUIRE_FALSE(k.ok());
    counts.count(why);
    return why;
  };
  offload_info gso;
  gso.gso = gso_kind::tcpv4;
  gso.gso_size = 0;
  CHECK(refuse(gso, 3000) == offload::rx_reject::gso_size);
  gso.gso_size = 1448;
  gso.hdr_len = 3001;
  CHECK(refuse(gso, 3000) == offload::rx_reject::hdr_len);
  offload_info csum;
  csum.csum_partial = true;
  csum.csum_start = 100;
  CHECK(refuse(csum, 100) == offload::rx_reject::csum_range);
  csum.csum_start = 34;
  csum.csum_offset = 65;
  CHECK(refuse(csum, 100) == offload::rx_reject::csum_range);  // the field's 2 bytes end at 101
  offload_info udp;
  udp.gso = gso_kind::unknown;
  CHECK(refuse(udp, 100) == offload::rx_reject::gso_type);
  CHECK(refuse(offload_info{}, page_size + 1) == offload::rx_reject::too_long);
  CHECK(counts.total() == 6);
  CHECK(counts.of(offload::rx_reject::csum_range) == 2);
  CHECK(counts.of(offload::rx_reject::gso_size) == 1);

  // And what is well formed is classified.
  csum.csum_offset = 64;
  CHECK(*offload::classify(csum, 100, page_size) == offload::rx_kind::partial);
  gso.hdr_len = 54;
  CHECK(*offload::classify(gso, 3000, page_size) == offload::rx_kind::merged);
  offload_info valid;
  valid.csum_valid = true;
  CHECK(*offload::classify(valid, 60, page_size) == offload::rx_kind::verified);
  CHECK(*offload::classify(offload_info{}, 60, page_size) == offload::rx_kind::plain);
}

TEST_CASE("a partial checksum is completed as the sum of the whole segment", "[offload]") {
  const flow f;
  const bytes right = segment(f, f.seq, f.id, 0x18, frames::pattern(333));  // odd length
  bytes partial = right;
  bytes pseudo(right.begin() + 26, right.begin() + 34);
  frames::put16(pseudo, 6);
  frames::put16(pseudo, static_cast<std::uint16_t>(right.size() - 34));
  const auto p = static_cast<std::uint16_t>(~internet_checksum(pseudo));  // the folded sum
  partial[50] = static_cast<std::uint8_t>(p >> 8);
  partial[51] = static_cast<std::uint8_t>(p);
  offload_info i;
  i.csum_partial = true;
  i.csum_start = 34;
  i.csum_offset = 16;
  REQUIRE(offload::complete_partial_checksum(partial, i));
  CHECK(partial == right);
  i.csum_offset = static_cast<std::uint16_t>(right.size() - 34 - 1);  // the field would pass the end
  CHECK_FALSE(offload::complete_partial_checksum(partial, i));
  CHECK(partial == right);  // untouched
}

TEST_CASE("merged frames that are not TCP/IPv4 as they claim are refused, never read past", "[offload]") {
  const flow f;
  const bytes good = segment(f, f.seq, f.id, 0x10, frames::pattern(3000));
  auto reason = [](bytes frame, std::size_t mss, std::size_t max_segment = page_size) {
    offload::frame_parts parts{{frame.data(), std::min<std::size_t>(frame.size(), 4096)}, {}};
    offload::rx_reject why{};
    auto s = offload::tcp_segmenter::parse(parts, mss, max_segment, &why);
    CHECK_FALSE(s.ok());
    return why;
  };
  CHECK(reason(good, 0) == offload::rx_reject::gso_size);
  CHECK(reason(bytes(good.begin(), good.begin() + 53), 1000) == offload::rx_reject::headers);  // too short
  CHECK(reason(bytes(good.begin(), good.begin() + 54), 1000) == offload::rx_reject::headers);  // no payload
  bytes arp = good;
  arp[13] = 0x06;
  CHECK(reason(arp, 1000) == offload::rx_reject::headers);
  bytes udp = good;
  udp[23] = 17;
  CHECK(reason(udp, 1000) == offload::rx_reject::headers);
  bytes v6 = good;
  v6[14] = 0x65;
  CHECK(reason(v6, 1000) == offload::rx_reject::headers);
  bytes ihl = good;
  ihl[14] = 0x44;
  CHECK(reason(ihl, 1000) == offload::rx_reject::headers);
  bytes offset = good;
  offset[46] = 0x40;  // a TCP header of 16 bytes
  CHECK(reason(offset, 1000) == offload::rx_reject::headers);
  CHECK(reason(good, page_size - 53) == offload::rx_reject::segment_size);  // a segment past its page
  CHECK(offload::tcp_segmenter::parse({{good.data(), good.size()}, {}}, page_size - 54, page_size).ok());
}

TEST_CASE("only IPv4 TCP frames are held for merging", "[offload]") {
  pool_fixture px;
  const flow f;
  const bytes tcp = segment(f, f.seq, f.id, 0x10, frames::pattern(10));
  std::vector<view> one{px.copy(tcp.data(), tcp.size())};
  CHECK(offload::may_be_tcp_ipv4(one));
  bytes udp = tcp;
  udp[23] = 17;
  std::vector<view> u{px.copy(udp.data(), udp.size())};
  CHECK_FALSE(offload::may_be_tcp_ipv4(u));
  bytes arp = tcp;
  arp[13] = 0x06;
  std::vector<view> a{px.copy(arp.data(), arp.size())};
  CHECK_FALSE(offload::may_be_tcp_ipv4(a));
  std::vector<view> split_oddly{px.copy(tcp.data(), 20)};
  CHECK(offload::may_be_tcp_ipv4(split_oddly));  // unsure: the batch's own parse decides
}

TEST_CASE("a TCP header emitted with a partial checksum, completed as a device does, is the header emitted whole",
          "[offload]") {
  static_page_pool<4> pool;
  auto page = pool.allocate();
  REQUIRE(page);
  for (std::size_t i = 0; i < 1000; ++i) page->data()[i] = static_cast<std::uint8_t>(i * 13);
  const view payload[] = {page->head(1000)};
  tcp::header h;
  h.source_port = 7;
  h.destination_port = 5000;
  h.seq = tcp::seq32{12345};
  h.ack_number = tcp::seq32{678};
  h.flags = tcp::ack | tcp::psh;
  h.window = 4096;
  h.opts.timestamps = std::pair<std::uint32_t, std::uint32_t>{1, 2};
  std::uint8_t whole[60], partial[60];
  const std::size_t hl = h.emit(whole, ip_a, ip_b, payload);
  REQUIRE(h.emit(partial, ip_a, ip_b, payload, true) == hl);
  // The device's view: the segment with the pseudo-header's sum in its checksum field.
  std::vector<std::uint8_t> segment(partial, partial + hl);
  segment.insert(segment.end(), page->data(), page->data() + 1000);
  offload_info info;
  info.csum_partial = true;
  info.csum_start = 0;
  info.csum_offset = 16;
  REQUIRE(offload::complete_partial_checksum(segment, info));
  CHECK(std::equal(whole, whole + hl, segment.begin()));
}

TEST_CASE("a TCP frame left with a partial checksum says where the device completes it (VIRTIO_NET_HDR_F_NEEDS_CSUM)",
          "[offload]") {
  pool_fixture px;
  const flow f;
  const bytes whole = segment(f, f.seq, f.id, 0x18, frames::pattern(1000));
  // What a stack with partial checksums emits: the pseudo-header's sum in the TCP checksum field.
  bytes partial = whole;
  checksum_accumulator pseudo;
  offload::add_tcp_pseudo_header(pseudo, partial.data() + 14, partial.size() - 34);
  offload::tcp::checksum::set(partial.data() + 34, pseudo.folded());
  // Ethernet, IPv4 and TCP headers in views of their own, as the layers give them.
  const std::vector<view> frags{px.copy(partial.data(), 14), px.copy(partial.data() + 14, 20),
                                px.copy(partial.data() + 34, partial.size() - 34)};
  offload_info info;
  REQUIRE(offload::partial_tcp_checksum(frags, info));
  CHECK(info.csum_partial);
  CHECK(info.csum_start == 34);
  CHECK(info.csum_offset == 16);
  CHECK(info.gso == gso_kind::none);
  bytes completed = partial;
  REQUIRE(offload::complete_partial_checksum(completed, info));
  CHECK(completed == whole);

  // Held alone by a GSO batch, it leaves with the same header; asked without, an all-zero one.
  offload::tcp_gso_batch<16> b;
  auto held = px.fragments(partial, 54);
  REQUIRE(b.start(held, partial.size()));
  const offload_info lone = b.finish(true);
  CHECK(lone.csum_partial);
  CHECK(lone.csum_start == info.csum_start);
  CHECK(lone.csum_offset == info.csum_offset);
  CHECK(lone.gso == gso_kind::none);
  CHECK_FALSE(b.finish().csum_partial);
  std::uint8_t vh[10];
  virtio_net_header_view::emit(vh, lone);
  CHECK(vh[0] == virtio_net_header_view::needs_csum);

  // Any other frame keeps a whole checksum: UDP, ARP, a fragment, too short to tell.
  bytes udp = whole;
  udp[23] = 17;
  bytes arp = whole;
  arp[13] = 0x06;
  bytes fragment = whole;
  fragment[20] = 0x20;  // more fragments
  for (const bytes& other : {udp, arp, fragment}) {
    offload_info o;
    const std::vector<view> v{px.copy(other.data(), other.size())};
    CHECK_FALSE(offload::partial_tcp_checksum(v, o));
    CHECK_FALSE(o.csum_partial);
  }
  offload_info o;
  const std::vector<view> short_frame{px.copy(whole.data(), 30)};
  CHECK_FALSE(offload::partial_tcp_checksum(short_frame, o));
}
