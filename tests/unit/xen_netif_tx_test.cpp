// Netfront's TX slots (platform/xen/uni/xen/netif_tx.hpp), tested on the host:
// a slot per piece of a fragment within one page, pieces that follow each
// other in one page joined, the first `skip` bytes left out.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <uni/xen/netif_tx.hpp>

using namespace uni;
using uni::xen::netif_tx_slots;

namespace {

struct alignas(4096) pages {
  std::uint8_t bytes[3 * 4096];
};

// (offset in the pages, size, fragment index) of each slot.
struct slot {
  std::size_t offset, size, frag;
  bool operator==(const slot&) const = default;
};

std::vector<slot> walk(const pages& p, const std::vector<view>& frags, std::size_t skip = 0) {
  std::vector<slot> out;
  netif_tx_slots w(frags, skip);
  for (netif_tx_slots::piece s; w.next(s);)
    out.push_back({s.address - reinterpret_cast<std::uintptr_t>(p.bytes), s.size,
                   static_cast<std::size_t>(s.frag - frags.data())});
  return out;
}

view at(pages& p, std::size_t offset, std::size_t size) {
  return view::unowned(std::span<std::uint8_t>{p.bytes + offset, size});
}

}  // namespace

TEST_CASE("netif tx: a fragment takes a slot per page it touches", "[xen][netif]") {
  static pages p;
  CHECK(walk(p, {at(p, 100, 50)}) == std::vector<slot>{{100, 50, 0}});
  CHECK(walk(p, {at(p, 4000, 5000)}) == std::vector<slot>{{4000, 96, 0}, {4096, 4096, 0}, {8192, 808, 0}});
  CHECK(walk(p, {}).empty());
}

TEST_CASE("netif tx: fragments that follow each other in one page share a slot, and only there", "[xen][netif]") {
  static pages p;
  // Joined: 100..150 then 150..200 in page 0; the third starts a new page.
  CHECK(walk(p, {at(p, 100, 50), at(p, 150, 50), at(p, 4096, 10)}) ==
        std::vector<slot>{{100, 100, 0}, {4096, 10, 2}});
  // Not joined across a page boundary, nor with a gap; an empty fragment is skipped.
  CHECK(walk(p, {at(p, 4000, 96), at(p, 4096, 10), at(p, 0, 0), at(p, 4200, 10)}) ==
        std::vector<slot>{{4000, 96, 0}, {4096, 10, 1}, {4200, 10, 3}});
}

TEST_CASE("netif tx: the first bytes skipped are in no slot", "[xen][netif]") {
  static pages p;
  CHECK(walk(p, {at(p, 0, 54), at(p, 4096, 100)}, 54) == std::vector<slot>{{4096, 100, 1}});
  CHECK(walk(p, {at(p, 0, 54), at(p, 4096, 100)}, 60) == std::vector<slot>{{4102, 94, 1}});
  CHECK(walk(p, {at(p, 4000, 200)}, 10) == std::vector<slot>{{4010, 86, 0}, {4096, 104, 0}});
}
