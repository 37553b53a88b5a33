// Parsers of the stack below TCP with valid, truncated and hostile input: every
// truncation of a valid header must fail cleanly, never read past the end.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <uni/net/arp.hpp>
#include <uni/net/ethernet.hpp>
#include <uni/net/icmp.hpp>
#include <uni/net/ipv4.hpp>
#include <uni/net/udp.hpp>

#include "frames.hpp"

using namespace uni;
using namespace frames;

namespace {
const ipv4_address a = ipv4_address::from_octets(192, 0, 2, 1);
const ipv4_address b = ipv4_address::from_octets(198, 51, 100, 7);
const mac_address ma{{2, 0, 0, 0, 0, 1}}, mb{{2, 0, 0, 0, 0, 2}};

// A heap copy of exactly n bytes, so ASan catches any read past the end.
std::unique_ptr<std::uint8_t[]> exact(const bytes& src, std::size_t n) {
  auto p = std::make_unique<std::uint8_t[]>(n ? n : 1);
  std::copy(src.begin(), src.begin() + static_cast<long>(n), p.get());
  return p;
}
}  // namespace

TEST_CASE("Ethernet: fields read in place, under 14 bytes is truncated", "[wire][ethernet]") {
  bytes f = ethernet(mb, ma, 0x0806, pattern(4));
  auto v = ethernet_view::parse(f);
  REQUIRE(v.ok());
  CHECK(v->destination() == mb);
  CHECK(v->source() == ma);
  CHECK(v->type() == 0x0806);
  CHECK(v->payload().size() == 4);
  for (std::size_t n = 0; n < 14; ++n) {
    auto p = exact(f, n);
    CHECK(ethernet_view::parse({p.get(), n}).err() == error::truncated);
  }
  std::uint8_t out[14];
  ethernet_view::emit(out, mb, ma, ethertype::arp);
  CHECK(bytes(out, out + 14) == bytes(f.begin(), f.begin() + 14));
}

TEST_CASE("ARP: parse and emit are inverse, every other shape is rejected", "[wire][arp]") {
  bytes p = arp(2, ma, a, mb, b);
  auto r = arp_packet::parse(p);
  REQUIRE(r.ok());
  CHECK(r->op == arp_op::reply);
  CHECK(r->sender_mac == ma);
  CHECK(r->sender_ip == a);
  CHECK(r->target_mac == mb);
  CHECK(r->target_ip == b);
  std::uint8_t out[28];
  r->emit(out);
  CHECK(bytes(out, out + 28) == p);
  for (std::size_t n = 0; n < 28; ++n) {
    auto q = exact(p, n);
    CHECK(arp_packet::parse({q.get(), n}).err() == error::truncated);
  }
  for (std::size_t at : {1u, 3u, 4u, 5u, 7u}) {
    bytes bad = p;
    bad[at] ^= 0x40;
    CHECK(arp_packet::parse(bad).err() == error::malformed);
  }
}

// Found by tests/fuzz/arp_fuzz: a reply saying an address is at ff:ff:ff:ff:ff:ff
// was learned, and the stack then sent that address's unicast traffic to broadcast.
TEST_CASE("ARP: a broadcast or multicast sender hardware address is rejected (fuzz regression)", "[wire][arp]") {
  for (mac_address group : {mac_address::broadcast(), mac_address{{0x01, 0x00, 0x5e, 0, 0, 1}}}) {
    CHECK(arp_packet::parse(arp(2, group, a, mb, b)).err() == error::malformed);
    CHECK(arp_packet::parse(arp(1, group, a, {}, b)).err() == error::malformed);
  }
  CHECK(arp_packet::parse(arp(2, ma, a, mac_address::broadcast(), b)).ok());  // a target may be anything
}

TEST_CASE("IPv4: a valid header parses, each field check rejects its violation", "[wire][ipv4]") {
  bytes p = ipv4({a, b, 17, 0xbeef, 0x2000 | 3, 33}, pattern(24));
  ipv4_header::reject why{};
  auto h = ipv4_header::parse(p, &why);
  REQUIRE(h.ok());
  CHECK(h->source == a);
  CHECK(h->destination == b);
  CHECK(h->identification == 0xbeef);
  CHECK(h->more_fragments());
  CHECK(h->fragment_offset() == 24);
  CHECK(h->ttl == 33);
  CHECK(h->payload_length() == 24);
  for (std::size_t n = 0; n < 20; ++n) {
    auto q = exact(p, n);
    CHECK_FALSE(ipv4_header::parse({q.get(), n}).ok());
  }
  // Cutting the payload short makes the total length lie.
  CHECK_FALSE(ipv4_header::parse(std::span(p).first(30), &why).ok());
  CHECK(why == ipv4_header::reject::bad_total_length);
  // Re-emitting the fields gives back the same bytes.
  std::uint8_t out[20];
  h->emit(out);
  CHECK(bytes(out, out + 20) == bytes(p.begin(), p.begin() + 20));
}

TEST_CASE("IPv4: every IHL and total length is handled within bounds", "[wire][ipv4]") {
  const bytes base = ipv4({a, b, 1}, pattern(40));
  for (int ihl = 0; ihl < 16; ++ihl) {
    for (std::size_t total : {0u, 19u, 20u, 23u, 24u, 59u, 60u, 61u, 65535u}) {
      bytes p = base;
      p[0] = static_cast<std::uint8_t>(0x40 | ihl);
      p[2] = static_cast<std::uint8_t>(total >> 8);
      p[3] = static_cast<std::uint8_t>(total);
      p[10] = p[11] = 0;
      const std::size_t hl = static_cast<std::size_t>(ihl) * 4;
      if (hl >= 20 && hl <= p.size()) {
        const std::uint16_t c = internet_checksum(std::span(p).first(hl));
        p[10] = static_cast<std::uint8_t>(c >> 8);
        p[11] = static_cast<std::uint8_t>(c);
      }
      auto q = exact(p, p.size());
      auto h = ipv4_header::parse({q.get(), p.size()});
      const bool valid = ihl >= 5 && total >= hl && total <= p.size();
      INFO("ihl " << ihl << " total " << total);
      CHECK(h.ok() == valid);
    }
  }
}

TEST_CASE("ICMP: the checksum covers every fragment, short headers are truncated", "[wire][icmp]") {
  auto pool = std::make_unique<static_page_pool<4>>();
  bytes m = icmp_echo(8, 0x1111, 0x2222, pattern(100));
  view page = *pool->allocate();
  std::copy(m.begin(), m.end(), page.data());
  view frags[] = {page.head(10), page.tail(10).head(m.size() - 10)};
  auto h = icmp_header::parse(frags);
  REQUIRE(h.ok());
  CHECK(h->type == 8);
  CHECK(h->identifier() == 0x1111);
  CHECK(h->sequence() == 0x2222);
  page[50] ^= 1;
  CHECK(icmp_header::parse(frags).err() == error::bad_checksum);
  view shorter[] = {page.head(7)};
  CHECK(icmp_header::parse(shorter).err() == error::truncated);
  CHECK(icmp_header::parse({}).err() == error::truncated);
}

// Found by tests/fuzz/icmp_fuzz: the incremental update (RFC 1624 eqn. 3) gave
// 0x0000 for a reply of all zero bytes, which a receiver rejects; it must be 0xffff.
TEST_CASE("ICMP: the echo reply checksum verifies, all-zero replies included (fuzz regression)", "[wire][icmp]") {
  auto pool = std::make_unique<static_page_pool<4>>();
  const bytes requests[] = {icmp_echo(8, 0, 0, {}), icmp_echo(8, 0, 0, bytes(1, 0)), icmp_echo(8, 0, 0, bytes(56, 0)),
                            icmp_echo(8, 0, 0, {0x80, 0x00, 0x7f, 0xff}),  // data summing to -0
                            icmp_echo(8, 0, 1, bytes(56, 0)), icmp_echo(8, 0x1234, 9, pattern(100))};
  for (const bytes& m : requests) {
    view page = *pool->allocate();
    std::copy(m.begin(), m.end(), page.data());
    const std::size_t cut = std::min<std::size_t>(m.size(), 9);
    view frags[] = {page.head(cut), page.tail(cut).head(m.size() - cut)};
    auto h = icmp_header::parse(frags);
    REQUIRE(h.ok());
    bytes reply = m;
    reply[0] = 0;
    reply[2] = reply[3] = 0;
    const std::uint16_t full = internet_checksum(reply);
    const std::uint16_t c = h->echo_reply_checksum(frags);
    INFO("request of " << m.size() << " bytes");
    CHECK(c == full);
    reply[2] = static_cast<std::uint8_t>(c >> 8);
    reply[3] = static_cast<std::uint8_t>(c);
    CHECK(internet_checksum(reply) == 0);
  }
}

TEST_CASE("UDP: length and pseudo-header checksum are checked", "[wire][udp]") {
  auto pool = std::make_unique<static_page_pool<4>>();
  bytes d = udp(a, b, 53, 5353, pattern(33));
  view page = *pool->allocate();
  std::copy(d.begin(), d.end(), page.data());
  view whole[] = {page.head(d.size())};
  auto h = udp_header::parse(whole, a, b);
  REQUIRE(h.ok());
  CHECK(h->source_port == 53);
  CHECK(h->destination_port == 5353);
  CHECK(h->length == 41);
  // The pseudo-header binds the addresses: another destination fails.
  CHECK(udp_header::parse(whole, a, a).err() == error::bad_checksum);
  // Unless the device vouched for the frame's checksum (an offloaded frame from
  // the host's own stack): then nobody sums it.
  whole[0].mark_checksum_verified();
  CHECK(udp_header::parse(whole, a, a).ok());
  // The mark is the page's, and the page's next allocation forgets it.
  std::uint8_t* const where = page.data();
  whole[0] = view{};
  page = view{};
  page = *pool->allocate();
  REQUIRE(page.data() == where);  // the pool hands back the page it got last
  CHECK_FALSE(page.checksum_verified());
  std::copy(d.begin(), d.end(), page.data());
  whole[0] = page.head(d.size());
  // Length below 8 or beyond the data is malformed.
  page[5] = 7;
  CHECK(udp_header::parse(whole, a, b).err() == error::malformed);
  page[5] = 42;
  CHECK(udp_header::parse(whole, a, b).err() == error::malformed);
  view tiny[] = {page.head(7)};
  CHECK(udp_header::parse(tiny, a, b).err() == error::truncated);
  // What we emit, we accept, whatever the split of the payload.
  view out = *pool->allocate();
  view payload[] = {page.tail(8).head(20), page.tail(28).head(13)};
  page[5] = 41;
  udp_header::emit(out.bytes(), 53, 5353, a, b, payload);
  view again[] = {out.head(8), payload[0], payload[1]};
  CHECK(udp_header::parse(again, a, b).ok());
  CHECK(bytes(out.data(), out.data() + 8) == bytes(d.begin(), d.begin() + 8));
}
