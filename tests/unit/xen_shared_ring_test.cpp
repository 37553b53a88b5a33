// The Xen front ring (platform/xen/uni/xen/shared_ring.hpp), tested on the host
// over the Xen public headers' own ring structures, with the test playing the
// backend by hand as xen/io/ring.h's back-ring macros would.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include <uni/xen/shared_ring.hpp>

#include <xen/io/blkif.h>
#include <xen/io/netif.h>

using namespace uni;
using uni::xen::front_ring;

namespace {

struct alignas(4096) ring_page {
  std::uint8_t bytes[4096];
};

// What a backend does: answer the next pushed request, and say so when asked.
template <class SharedRing>
struct backend {
  SharedRing* s;
  RING_IDX rsp_prod_pvt = 0;
  RING_IDX req_cons = 0;

  auto take() { return s->ring[req_cons++ & (front_ring<SharedRing>::size - 1)].req; }
  template <class Response>
  void answer(const Response& r) { s->ring[rsp_prod_pvt++ & (front_ring<SharedRing>::size - 1)].rsp = r; }
  // RING_PUSH_RESPONSES_AND_CHECK_NOTIFY
  bool push() {
    const RING_IDX old = s->rsp_prod;
    s->rsp_prod = rsp_prod_pvt;
    return static_cast<RING_IDX>(rsp_prod_pvt - s->rsp_event) < static_cast<RING_IDX>(rsp_prod_pvt - old);
  }
};

}  // namespace

TEST_CASE("front ring sizes are those of __CONST_RING_SIZE", "[xen][ring]") {
  CHECK(front_ring<netif_tx_sring>::size == __CONST_RING_SIZE(netif_tx, 4096));
  CHECK(front_ring<netif_rx_sring>::size == __CONST_RING_SIZE(netif_rx, 4096));
  CHECK(front_ring<blkif_sring>::size == __CONST_RING_SIZE(blkif, 4096));
  CHECK(front_ring<blkif_sring>::size == 32);
}

TEST_CASE("requests pushed reach the backend, and responses come back in order, copied", "[xen][ring]") {
  auto page = std::make_unique<ring_page>();
  front_ring<netif_tx_sring> ring;
  ring.attach(page->bytes);
  auto* s = reinterpret_cast<netif_tx_sring*>(page->bytes);
  CHECK(s->req_event == 1);
  CHECK(s->rsp_event == 1);
  CHECK(ring.free_requests() == 256);

  for (std::uint16_t id = 0; id < 3; ++id) {
    netif_tx_request_t& r = ring.next_request();
    r.id = id;
    r.size = static_cast<std::uint16_t>(100 + id);
  }
  CHECK(ring.in_flight() == 3);
  CHECK(s->req_prod == 0);  // nothing shown before the push
  CHECK(ring.push());       // req_event 1: the backend waits for the first request
  CHECK(s->req_prod == 3);
  s->req_event = 10;  // the backend asks to hear of request 10 only
  netif_tx_request_t& more = ring.next_request();
  more.id = 3;
  CHECK_FALSE(ring.push());  // request 4 of 10: no notification

  backend<netif_tx_sring> back{s};
  for (int i = 0; i < 4; ++i) {
    const auto req = back.take();
    back.answer(netif_tx_response_t{req.id, NETIF_RSP_OKAY});
  }
  CHECK(back.push());  // rsp_event 1
  std::vector<std::uint16_t> ids;
  auto n = ring.consume([&](const netif_tx_response_t& r) { ids.push_back(r.id); });
  REQUIRE(n.ok());
  CHECK(*n == 4);
  CHECK(ids == std::vector<std::uint16_t>{0, 1, 2, 3});
  CHECK(s->rsp_event == 5);  // re-armed for the next response
  CHECK(ring.in_flight() == 0);
  CHECK(ring.free_requests() == 256);
}

TEST_CASE("a ring is filled and emptied round after round, ids in order", "[xen][ring]") {
  auto page = std::make_unique<ring_page>();
  front_ring<blkif_sring> ring;
  ring.attach(page->bytes);
  auto* s = reinterpret_cast<blkif_sring*>(page->bytes);
  backend<blkif_sring> back{s};
  std::uint64_t seen = 0;
  for (int round = 0; round < 100; ++round) {
    while (ring.free_requests() > 0) ring.next_request().id = seen + ring.in_flight();
    (void)ring.push();
    while (back.req_cons != s->req_prod) {
      const auto req = back.take();
      blkif_response_t rsp{};
      rsp.id = req.id;
      back.answer(rsp);
    }
    (void)back.push();
    auto n = ring.consume([&](const blkif_response_t& r) { CHECK(r.id == seen++); });
    REQUIRE(n.ok());
    CHECK(*n == 32);
  }
  CHECK(seen == 3200);
}

TEST_CASE("a backend that answers more than was pushed breaks the ring", "[xen][ring]") {
  auto page = std::make_unique<ring_page>();
  front_ring<netif_rx_sring> ring;
  ring.attach(page->bytes);
  auto* s = reinterpret_cast<netif_rx_sring*>(page->bytes);
  for (int i = 0; i < 4; ++i) ring.next_request().id = static_cast<std::uint16_t>(i);
  (void)ring.push();
  ring.next_request().id = 4;  // made, not pushed: the backend cannot have seen it

  SECTION("a producer past the pushed requests") {
    s->rsp_prod = 5;
    int calls = 0;
    auto n = ring.consume([&](const netif_rx_response_t&) { ++calls; });
    CHECK_FALSE(n.ok());
    CHECK(n.err() == error::malformed);
    CHECK(calls == 0);  // nothing read from a ring known bad
    CHECK_FALSE(ring.attached());
  }
  SECTION("a producer behind what was consumed") {
    s->rsp_prod = 2;
    REQUIRE(ring.consume([](const netif_rx_response_t&) {}).ok());
    s->rsp_prod = 1;  // moved back
    CHECK_FALSE(ring.consume([](const netif_rx_response_t&) {}).ok());
  }
  SECTION("exactly what was pushed is fine") {
    s->rsp_prod = 4;
    auto n = ring.consume([](const netif_rx_response_t&) {});
    REQUIRE(n.ok());
    CHECK(*n == 4);
  }
}
