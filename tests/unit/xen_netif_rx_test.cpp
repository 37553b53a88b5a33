// Netfront's receive chains (platform/xen/uni/xen/netif_rx.hpp), tested on the
// host over xen/io/netif.h's own structures: the test writes responses as
// Linux netback does ("Guest receive" in netif.h), then as a broken one would.
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <vector>

#include <uni/xen/netif_rx.hpp>

using namespace uni;
using uni::xen::netif_rx_chain;

namespace {

using chain = netif_rx_chain<65536>;

netif_rx_response_t data_slot(std::uint16_t id, std::uint16_t flags, std::int16_t size, std::uint16_t offset = 0) {
  netif_rx_response_t r{};
  r.id = id;
  r.offset = offset;
  r.flags = flags;
  r.status = size;
  return r;
}

netif_rx_response_t gso_slot(std::uint16_t size, std::uint8_t type = XEN_NETIF_GSO_TYPE_TCPV4) {
  netif_extra_info_t x{};
  x.type = XEN_NETIF_EXTRA_TYPE_GSO;
  x.u.gso.size = size;
  x.u.gso.type = type;
  netif_rx_response_t r;
  std::memcpy(&r, &x, sizeof r);
  return r;
}

// An Ethernet/IPv4/TCP frame of `payload` bytes, from 10.0.0.1:5000 to 10.0.0.2:7.
std::vector<std::uint8_t> tcp_frame(std::size_t payload) {
  std::vector<std::uint8_t> f(54 + payload);
  const std::uint8_t head[54] = {0x02, 0x75, 0x6e, 0x69, 0, 2, 0x02, 0x75, 0x6e, 0x69, 0, 1, 0x08, 0x00,  // Ethernet
                                 0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,    // IPv4
                                 0x13, 0x88, 0, 7, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0};
  std::memcpy(f.data(), head, sizeof head);
  const std::size_t ip_len = 40 + payload;
  f[16] = static_cast<std::uint8_t>(ip_len >> 8);
  f[17] = static_cast<std::uint8_t>(ip_len);
  for (std::size_t i = 54; i < f.size(); ++i) f[i] = static_cast<std::uint8_t>(i * 7);
  return f;
}

// A page holding bytes [from, from + n) of `f`.
view page_with(page_pool& pool, const std::vector<std::uint8_t>& f, std::size_t from, std::size_t n) {
  auto p = pool.allocate();
  REQUIRE(p);
  std::memcpy(p->data(), f.data() + from, n);
  return std::move(*p);
}

}  // namespace

TEST_CASE("netif rx: a frame in one slot keeps its page, and netback's checksum flags say what was verified",
          "[xen][netif]") {
  static_page_pool<8> pool;
  auto c = std::make_unique<chain>();
  const auto f = tcp_frame(100);
  auto got = c->take(data_slot(0, NETRXF_data_validated, 154), 0, page_with(pool, f, 0, 154));
  REQUIRE(got);
  CHECK(got->slots == 1);
  CHECK(got->tail.empty());
  CHECK(std::memcmp(got->head.data(), f.data(), 154) == 0);
  CHECK(got->info.csum_valid);
  CHECK_FALSE(got->info.csum_partial);

  got = c->take(data_slot(1, NETRXF_csum_blank | NETRXF_data_validated, 154), 1, page_with(pool, f, 0, 154));
  REQUIRE(got);
  CHECK(got->info.csum_partial);
  CHECK(got->info.csum_start == 34);  // the TCP header, found in the frame: netif.h does not say
  CHECK(got->info.csum_offset == 16);
  const auto kind = offload::classify(got->info, got->head.size(), page_size);
  REQUIRE(kind);
  CHECK(*kind == offload::rx_kind::partial);
}

TEST_CASE("netif rx: a merged frame over three slots and a GSO extra is one frame, cut as the sender sent it",
          "[xen][netif]") {
  static_page_pool<64> pool;
  const std::size_t before = pool.available();
  {
    auto c = std::make_unique<chain>();
    const auto f = tcp_frame(4096 * 2 + 1000 - 54);  // 9192 bytes: two full pages and 1000
    CHECK_FALSE(c->take(data_slot(0, NETRXF_more_data | NETRXF_extra_info | NETRXF_csum_blank, 4096), 0,
                        page_with(pool, f, 0, 4096)));
    CHECK_FALSE(c->take(gso_slot(1448), 1, page_with(pool, f, 0, 0)));  // the extra used up slot 1's request
    CHECK_FALSE(c->take(data_slot(2, NETRXF_more_data, 4096), 2, page_with(pool, f, 4096, 4096)));
    auto got = c->take(data_slot(3, 0, 1000), 3, page_with(pool, f, 8192, 1000));
    REQUIRE(got);
    CHECK(got->slots == 3);
    CHECK(c->multi_slot_frames() == 1);
    CHECK(got->info.gso == gso_kind::tcpv4);
    CHECK(got->info.gso_size == 1448);
    REQUIRE(got->head.size() + got->tail.size() == f.size());
    CHECK(std::memcmp(got->head.data(), f.data(), 4096) == 0);
    CHECK(std::memcmp(got->tail.data(), f.data() + 4096, f.size() - 4096) == 0);

    const auto kind = offload::classify(got->info, f.size(), page_size);
    REQUIRE(kind);
    REQUIRE(*kind == offload::rx_kind::merged);
    auto cut = offload::tcp_segmenter::parse({got->head.bytes(), got->tail}, got->info.gso_size, page_size);
    REQUIRE(cut);
    CHECK(cut->count() == 7);  // 9138 payload bytes in 1448s
    std::size_t payload = 0;
    REQUIRE(offload::deliver_segments(*cut, pool, false, [&](view s) {
      CHECK(s.checksum_verified());
      payload += s.size() - 54;
    }));
    CHECK(payload == f.size() - 54);
    CHECK(c->drops().total() == 0);
  }
  CHECK(pool.available() == before);
}

TEST_CASE("netif rx: a chain longer than max_slots is dropped and counted, and the next frame is read in step",
          "[xen][netif]") {
  static_page_pool<8> pool;
  auto c = std::make_unique<chain>();
  const auto f = tcp_frame(100);
  std::uint16_t slot = 0;
  for (std::size_t i = 0; i < chain::max_slots + 4; ++i, ++slot)
    CHECK_FALSE(c->take(data_slot(slot, NETRXF_more_data, 100), slot, page_with(pool, f, 0, 100)));
  CHECK_FALSE(c->take(data_slot(slot, 0, 100), slot, page_with(pool, f, 0, 100)));
  ++slot;
  CHECK(c->drops().slots == 1);
  auto got = c->take(data_slot(slot, 0, 154), slot, page_with(pool, f, 0, 154));
  REQUIRE(got);
  CHECK(got->head.size() == 154);
  CHECK(pool.available() == 7);  // the drop's pages are back; only this frame's is held
}

TEST_CASE("netif rx: what a backend may not write drops the frame, each for its reason", "[xen][netif]") {
  static_page_pool<8> pool;
  auto c = std::make_unique<chain>();
  const auto f = tcp_frame(100);
  SECTION("an error status in the middle of a chain") {
    CHECK_FALSE(c->take(data_slot(0, NETRXF_more_data, 100), 0, page_with(pool, f, 0, 100)));
    CHECK_FALSE(c->take(data_slot(1, 0, NETIF_RSP_ERROR), 1, page_with(pool, f, 0, 0)));
    CHECK(c->drops().status == 1);
  }
  SECTION("bytes past the slot's page") {
    CHECK_FALSE(c->take(data_slot(0, 0, 200, 4000), 0, page_with(pool, f, 0, 0)));
    CHECK(c->drops().slot_range == 1);
  }
  SECTION("an id that is not its ring slot's") {
    CHECK_FALSE(c->take(data_slot(9, 0, 100), 0, page_with(pool, f, 0, 100)));
    CHECK(c->drops().id == 1);
  }
  SECTION("an extra of no known type") {
    netif_rx_response_t bad = gso_slot(1448);
    reinterpret_cast<std::uint8_t*>(&bad)[0] = XEN_NETIF_EXTRA_TYPE_MAX;
    CHECK_FALSE(c->take(data_slot(0, NETRXF_extra_info, 100), 0, page_with(pool, f, 0, 100)));
    CHECK_FALSE(c->take(bad, 1, page_with(pool, f, 0, 0)));
    CHECK(c->drops().extra == 1);
  }
  SECTION("a GSO kind we did not ask for is classify()'s to refuse") {
    CHECK_FALSE(c->take(data_slot(0, NETRXF_extra_info, 154), 0, page_with(pool, f, 0, 154)));
    auto got = c->take(gso_slot(1448, XEN_NETIF_GSO_TYPE_TCPV6), 1, page_with(pool, f, 0, 0));
    REQUIRE(got);
    offload::rx_reject why{};
    CHECK_FALSE(offload::classify(got->info, 154, page_size, &why));
    CHECK(why == offload::rx_reject::gso_type);
  }
  // Whatever was dropped, the next frame is whole.
  auto next = c->take(data_slot(2, 0, 154), 2, page_with(pool, f, 0, 154));
  REQUIRE(next);
  CHECK(next->head.size() == 154);
}
