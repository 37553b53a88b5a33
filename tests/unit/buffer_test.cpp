#include <catch2/catch.hpp>

#include <memory>
#include <vector>
#include <uni/core/buffer.hpp>

using namespace uni;

TEST_CASE("a page returns to the pool when its last view dies", "[buffer]") {
  auto pool = std::make_unique<static_page_pool<4>>();
  REQUIRE(pool->available() == 4);
  {
    auto page = pool->allocate();
    REQUIRE(page.ok());
    CHECK(page->size() == page_size);
    CHECK(pool->available() == 3);
    view header = page->head(14);
    view payload = page->tail(14);
    CHECK(page->use_count() == 3);
    page = result<view>(view{});  // the original view goes first
    CHECK(pool->available() == 3);
    header = view{};
    CHECK(pool->available() == 3);
    CHECK(payload.use_count() == 1);
  }
  CHECK(pool->available() == 4);
  CHECK(pool->statistics().high_water == 1);
}

TEST_CASE("pool exhaustion is an error value and is counted", "[buffer]") {
  static_page_pool<2> pool;
  auto a = pool.allocate();
  auto b = pool.allocate();
  auto c = pool.allocate();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE_FALSE(c.ok());
  CHECK(c.err() == error::no_buffers);
  CHECK(pool.statistics().exhausted == 1);
  a = result<view>(view{});
  CHECK(pool.allocate().ok());  // the freed page is reused
}

TEST_CASE("the reserve is refused to ordinary allocations and served to reserved ones", "[buffer]") {
  static_page_pool<8> pool;
  pool.reserve(2);
  pool.reserve(1);  // the largest asked for stays
  CHECK(pool.reserved() == 2);
  std::vector<view> held;
  for (int i = 0; i < 6; ++i) held.push_back(*pool.allocate());
  auto refused = pool.allocate();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.err() == error::no_buffers);
  CHECK(pool.statistics().held_back == 1);
  held.push_back(*pool.allocate_reserved());
  held.push_back(*pool.allocate_reserved());
  CHECK(pool.allocate_reserved().err() == error::no_buffers);
  CHECK(pool.allocate().err() == error::no_buffers);
  CHECK(pool.statistics().exhausted == 2);  // empty: exhausted, not held back
  CHECK(pool.statistics().held_back == 1);
  held.resize(5);
  CHECK(pool.allocate().ok());  // three free, two of them reserved
  static_page_pool<4> small;
  small.reserve(100);
  CHECK(small.reserved() == 2);  // at most half the pool
}

TEST_CASE("slices share the page and check their bounds", "[buffer]") {
  static_page_pool<1> pool;
  view page = *pool.allocate();
  page.bytes()[100] = 0xab;
  auto s = page.slice(100, 10);
  REQUIRE(s.ok());
  CHECK((*s)[0] == 0xab);
  CHECK(s->data() == page.data() + 100);  // no copy
  CHECK(page.slice(4000, 97).err() == error::truncated);
  CHECK(page.slice(4097, 0).err() == error::truncated);
  CHECK(page.slice(4096, 0).ok());
  auto sub = s->slice(2, 8);
  REQUIRE(sub.ok());
  CHECK(sub->data() == page.data() + 102);
  CHECK(s->slice(2, 9).err() == error::truncated);
}

TEST_CASE("headroom lets a header be prepended in the same page", "[buffer]") {
  static_page_pool<1> pool;
  view payload = pool.allocate()->tail(64).head(100);
  CHECK(payload.headroom() == 64);
  CHECK(payload.tailroom() == page_size - 164);
  REQUIRE(payload.push_front(20).ok());
  CHECK(payload.size() == 120);
  CHECK(payload.push_front(45).err() == error::too_large);
  REQUIRE(payload.extend(10).ok());
  CHECK(payload.size() == 130);
}

TEST_CASE("unowned views carry no page", "[buffer]") {
  static const std::uint8_t text[] = {'h', 'i'};
  view v = view::unowned(std::span<const std::uint8_t>(text));
  CHECK(v.size() == 2);
  CHECK(v.page() == nullptr);
  CHECK(v.use_count() == 0);
  CHECK(v.headroom() == 0);
  view copy = v;
  CHECK(copy.data() == text);
}

TEST_CASE("gather joins fragments", "[buffer]") {
  static_page_pool<2> pool;
  view a = pool.allocate()->head(3);
  view b = pool.allocate()->head(2);
  a[0] = 1, a[1] = 2, a[2] = 3, b[0] = 4, b[1] = 5;
  view frags[] = {a, b};
  CHECK(total_size(frags) == 5);
  std::uint8_t out[8]{};
  CHECK(gather(frags, out) == 5);
  CHECK(out[3] == 4);
  std::uint8_t small[4]{};
  CHECK(gather(frags, small) == 4);
}
