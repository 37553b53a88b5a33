// The Xen target's bounded heap (src/boot/uni/boot/heap.hpp), tested on the host:
// it is plain code over a byte region.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <uni/boot/heap.hpp>

using uni::boot::heap;

namespace {
struct region {
  alignas(4096) std::uint8_t bytes[64 * 1024];
};
struct big_region {
  alignas(4096) std::uint8_t bytes[4 * 1024 * 1024];
};
std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }
}  // namespace

TEST_CASE("heap: blocks are 16-byte aligned, disjoint and come back for reuse", "[xen][heap]") {
  auto r = std::make_unique<region>();
  heap h;
  h.init(r->bytes, sizeof r->bytes);
  void* a = h.allocate(24);
  void* b = h.allocate(24);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(addr(a) % 16 == 0);
  CHECK(addr(b) % 16 == 0);
  CHECK((addr(b) >= addr(a) + 24 || addr(a) >= addr(b) + 24));
  CHECK(h.statistics().allocations == 2);
  const auto carved = h.statistics().carved;
  REQUIRE(h.deallocate(a));
  void* c = h.allocate(20);  // same size class: the freed block, nothing new carved
  CHECK(c == a);
  CHECK(h.statistics().carved == carved);
  REQUIRE(h.deallocate(b));
  REQUIRE(h.deallocate(c));
  CHECK(h.statistics().in_use == 0);
  CHECK(h.statistics().high_water > 0);
}

TEST_CASE("heap: exhaustion is a null pointer and is counted", "[xen][heap]") {
  auto r = std::make_unique<region>();
  heap h;
  h.init(r->bytes, sizeof r->bytes);
  CHECK(h.allocate(1 << 20) == nullptr);  // larger than the region
  CHECK(h.statistics().failures == 1);
  int got = 0;
  while (h.allocate(1000) != nullptr) ++got;
  CHECK(got == 64 * 1024 / 1024);  // 1000 + header rounds up to 1 KiB blocks
  CHECK(h.statistics().failures == 2);
}

TEST_CASE("heap: over-aligned blocks honour the alignment and free through their base", "[xen][heap]") {
  auto r = std::make_unique<region>();
  heap h;
  h.init(r->bytes, sizeof r->bytes);
  void* p = h.allocate(100, 4096);
  REQUIRE(p != nullptr);
  CHECK(addr(p) % 4096 == 0);
  CHECK(h.statistics().in_use > 0);
  REQUIRE(h.deallocate(p));
  CHECK(h.statistics().in_use == 0);
  CHECK(h.allocate(8, 8192) == nullptr);  // alignment above a page is refused
}

TEST_CASE("heap: a pointer it did not hand out is refused", "[xen][heap]") {
  auto r = std::make_unique<region>();
  heap h;
  h.init(r->bytes, sizeof r->bytes);
  void* p = h.allocate(64);
  REQUIRE(p != nullptr);
  CHECK_FALSE(h.deallocate(static_cast<std::uint8_t*>(p) + 16));
  REQUIRE(h.deallocate(p));
  CHECK_FALSE(h.deallocate(p));  // a second free of the same block
  CHECK(h.deallocate(nullptr));
}

TEST_CASE("heap: a large block costs its size in pages, not the next power of two", "[xen][heap]") {
  auto r = std::make_unique<big_region>();
  heap h;
  h.init(r->bytes, sizeof r->bytes);
  const std::size_t n = 1024 * 1024 + 100;  // just over 1 MiB
  void* a = h.allocate(n);
  REQUIRE(a != nullptr);
  CHECK(h.statistics().carved <= n + 4096 + 16);
  CHECK(h.statistics().in_use == h.statistics().carved);
  REQUIRE(h.deallocate(a));
  CHECK(h.statistics().in_use == 0);
  void* b = h.allocate(n - 1000);  // fits the freed block: reused, nothing carved
  CHECK(b == a);
  void* c = h.allocate(100 * 1024);  // far smaller than the free large block: new pages
  REQUIRE(c != nullptr);
  CHECK(c != a);
  REQUIRE(h.deallocate(b));
  REQUIRE(h.deallocate(c));
  CHECK_FALSE(h.deallocate(c));
}
