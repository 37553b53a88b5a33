#include <catch2/catch.hpp>

#include <memory>
#include <uni/sim/sim_link.hpp>
#include <vector>

using namespace uni;
using namespace uni::sim;

namespace {
struct collector {
  std::vector<std::uint8_t> firsts;
  std::vector<time_point> times;
  ManualClock* clock;
  void operator()(view frame) {
    firsts.push_back(frame[0]);
    times.push_back(clock->now());
  }
};

result<void> send_byte(SimNetif& n, page_pool& pool, std::uint8_t b, std::size_t len = 60) {
  view f = pool.allocate()->head(len);
  f[0] = b;
  view frags[] = {f};
  return n.transmit(frags);
}
}  // namespace

TEST_CASE("a clean link delivers every frame in order after its delay", "[sim]") {
  auto pool = std::make_unique<static_page_pool<64>>();
  ManualClock clock;
  sim_link link(*pool, clock, 1, impairment{.delay_min = 1ms, .delay_max = 1ms});
  collector got{{}, {}, &clock};
  link.b().set_receiver(got);
  for (std::uint8_t i = 0; i < 10; ++i) REQUIRE(send_byte(link.a(), *pool, i).ok());
  CHECK(got.firsts.empty());
  clock.advance(999us);
  CHECK(got.firsts.empty());
  clock.advance(1us);
  CHECK(got.firsts == std::vector<std::uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(got.times.back() == time_point{1ms});
  CHECK(link.statistics().delivered == 10);
  CHECK(pool->available() == 64);  // delivered frames were released by the receiver
}

TEST_CASE("impairments follow the seed: same seed, same outcome", "[sim]") {
  auto run_once = [](std::uint64_t seed) {
    auto pool = std::make_unique<static_page_pool<256>>();
    ManualClock clock;
    impairment imp{.loss_ppm = 100'000, .duplicate_ppm = 100'000, .reorder_ppm = 100'000,
                   .delay_min = 1ms, .delay_max = 3ms};
    sim_link link(*pool, clock, seed, imp);
    collector got{{}, {}, &clock};
    link.b().set_receiver(got);
    for (int i = 0; i < 200; ++i) {
      (void)send_byte(link.a(), *pool, static_cast<std::uint8_t>(i));
      clock.advance(100us);
    }
    clock.advance(1s);
    return std::make_pair(got.firsts, link.statistics());
  };
  auto [a, sa] = run_once(42);
  auto [b, sb] = run_once(42);
  auto [c, sc] = run_once(43);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(sa.lost > 5);
  CHECK(sa.duplicated > 5);
  CHECK(sa.reordered > 5);
  CHECK(a.size() == 200 - sa.lost + sa.duplicated);
  CHECK_FALSE(std::is_sorted(a.begin(), a.end()));  // reordering happened
}

TEST_CASE("oversize frames are refused and the in-flight queue is bounded", "[sim]") {
  auto pool = std::make_unique<static_page_pool<1024>>();
  ManualClock clock;
  sim_link link(*pool, clock, 1, impairment{.delay_min = 1ms, .delay_max = 1ms});
  CHECK(send_byte(link.a(), *pool, 1, 1515).err() == error::too_large);
  CHECK(send_byte(link.a(), *pool, 1, 1514).ok());
  for (std::size_t i = 0; i < sim_link::max_in_flight + 10; ++i) (void)send_byte(link.a(), *pool, 2);
  CHECK(link.in_flight() == sim_link::max_in_flight);
  CHECK(link.statistics().queue_full == 11);
  clock.advance(2ms);  // nobody listens: frames are dropped and pages return
  CHECK(pool->available() == 1024);
}

TEST_CASE("the manual clock stops at the earlier of a deadline and a frame", "[sim]") {
  auto pool = std::make_unique<static_page_pool<8>>();
  ManualClock clock;
  sim_link link(*pool, clock, 1, impairment{.delay_min = 5ms, .delay_max = 5ms});
  collector got{{}, {}, &clock};
  link.a().set_receiver(got);
  REQUIRE(send_byte(link.b(), *pool, 9).ok());
  clock.wait_until(time_point{2ms});
  CHECK(clock.now() == time_point{2ms});
  CHECK(got.firsts.empty());
  clock.wait_until(time_point{1s});
  CHECK(clock.now() == time_point{5ms});
  CHECK(got.firsts == std::vector<std::uint8_t>{9});
}
