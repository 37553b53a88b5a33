// Block devices: the RAM disk and the fault-injecting disk (uni/sim/), and the
// request queue over them (uni/block/). Everything runs on a manual clock, so
// latency costs no wall time and every run replays from its seed. (Catch's
// REQUIRE throws, which a coroutine must not: coroutines use CHECK and return.)
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <source_location>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/sim/fault_disk.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/sim/ram_disk.hpp>

using namespace uni;

namespace {

template <class T>
T run_now(scheduler& s, sim::ManualClock& clock, task<T> t) {
  auto r = run(s, clock, std::move(t));
  REQUIRE(r.ok());
  return *r;
}

// `n` bytes of a fresh page, filled with `fill`.
view page_of(page_pool& pool, std::size_t n, std::uint8_t fill) {
  auto p = pool.allocate();
  REQUIRE(p.ok());
  p->truncate(n);
  std::memset(p->data(), fill, n);
  return *p;
}

std::span<const view> one(const view& v) { return {&v, 1}; }

// A request's outcome, checked outside the CHECK macro: GCC evaluates a
// co_await inside Catch's macro more than once.
void expect(const result<void>& r, error e, std::source_location at = std::source_location::current()) {
  INFO("line " << at.line());
  CHECK(to_string(r.err()) == to_string(e));
}

}  // namespace

TEST_CASE("ram disk: geometry, round trip over scattered views, every refusal", "[block]") {
  static_page_pool<8> pool;
  sim::RamDisk disk(512, 64);
  STATIC_REQUIRE(BlockDevice<sim::RamDisk>);
  CHECK(disk.sector_size() == 512);
  CHECK(disk.sectors() == 64);
  CHECK_FALSE(disk.read_only());
  scheduler s;
  sim::ManualClock clock;

  const std::array<view, 2> out{page_of(pool, 1024, 0xa5), page_of(pool, 512, 0x5a)};
  const view into = page_of(pool, 2048, 0xff);
  const view odd = page_of(pool, 700, 0);
  run_now(s, clock, [&]() -> task<int> {
    expect(co_await disk.write(10, out), error::none);  // sectors 10..12
    expect(co_await disk.flush(), error::none);
    expect(co_await disk.read(9, one(into)), error::none);  // sectors 9..12
    expect(co_await disk.read(64, std::span<const view>{}), error::none);  // nothing, at the end: allowed
    expect(co_await disk.read(63, one(into)), error::out_of_range);
    expect(co_await disk.write(65, std::span<const view>{}), error::out_of_range);
    expect(co_await disk.write(0, one(odd)), error::misaligned);
    co_return 0;
  }());
  CHECK(into.data()[0] == 0);
  CHECK(into.data()[512] == 0xa5);
  CHECK(into.data()[1535] == 0xa5);
  CHECK(into.data()[1536] == 0x5a);
  CHECK(disk.image()[10 * 512] == 0xa5);
  CHECK(disk.statistics().refused == 3);

  disk.set_read_only(true);
  disk.limit_request(2);
  run_now(s, clock, [&]() -> task<int> {
    expect(co_await disk.write(0, out), error::read_only);
    expect(co_await disk.read(0, one(into)), error::too_large);  // 4 sectors > 2
    expect(co_await disk.read(0, one(out[0])), error::none);
    co_return 0;
  }());
}

TEST_CASE("fault disk: scheduled errors, torn writes, lost flushes, power cut, unplug", "[block]") {
  static_page_pool<8> pool;
  sim::RamDisk ram(512, 32);
  sim::FaultDisk disk(ram);
  STATIC_REQUIRE(BlockDevice<sim::FaultDisk<sim::RamDisk>>);
  scheduler s;
  sim::ManualClock clock;
  disk.fail_at(sim::block_op::read, 1);
  disk.fail_at(sim::block_op::write, 0, error::no_space);
  disk.fail_at(sim::block_op::flush, 0);
  disk.tear(2, 1);       // write 2: only its first sector lands
  disk.cut_power(4, 2);  // write 4: two sectors land, then the device is gone

  const view four = page_of(pool, 2048, 0x11);
  const view into = page_of(pool, 2048, 0);
  run_now(s, clock, [&]() -> task<int> {
    expect(co_await disk.read(0, one(into)), error::none);                     // read 0
    expect(co_await disk.read(0, one(into)), error::io);       // read 1
    expect(co_await disk.write(0, one(four)), error::no_space);  // write 0
    expect(co_await disk.write(0, one(four)), error::none);                    // write 1
    expect(co_await disk.flush(), error::io);                  // flush 0
    expect(co_await disk.flush(), error::none);                                // flush 1
    std::memset(four.data(), 0x22, 2048);
    expect(co_await disk.write(8, one(four)), error::io);  // write 2: torn after 1 sector
    expect(co_await disk.write(20, one(four)), error::none);  // write 3
    std::memset(four.data(), 0x33, 2048);
    expect(co_await disk.write(12, one(four)), error::device_gone);  // write 4: the cut
    expect(co_await disk.read(0, one(into)), error::device_gone);
    expect(co_await disk.flush(), error::device_gone);
    co_return 0;
  }());
  CHECK(ram.image()[0] == 0x11);
  CHECK(ram.image()[8 * 512] == 0x22);
  CHECK(ram.image()[9 * 512] == 0);  // the torn write's second sector never landed
  CHECK(ram.image()[13 * 512 + 511] == 0x33);
  CHECK(ram.image()[14 * 512] == 0);  // the cut write's third sector did not land
  CHECK(disk.statistics().torn == 2);
  CHECK(disk.statistics().errors == 3);
  CHECK(disk.gone());
}

TEST_CASE("fault disk: the write log rebuilds the disk after any prefix, torn, flushed or not", "[block]") {
  static_page_pool<8> pool;
  sim::RamDisk ram(512, 16);
  ram.image()[0] = 0x99;
  const sim::RamDisk base = ram;
  sim::FaultDisk disk(ram);
  disk.record();
  disk.lose_flush(1);
  scheduler s;
  sim::ManualClock clock;
  const view a = page_of(pool, 1024, 0xaa), b = page_of(pool, 512, 0xbb), c = page_of(pool, 1024, 0xcc);
  run_now(s, clock, [&]() -> task<int> {
    expect(co_await disk.write(0, one(a)), error::none);  // entry 0
    expect(co_await disk.flush(), error::none);            // entry 1 covers entry 0
    expect(co_await disk.write(4, one(b)), error::none);  // entry 2
    expect(co_await disk.flush(), error::none);            // lost: no entry
    expect(co_await disk.write(6, one(c)), error::none);  // entry 3
    co_return 0;
  }());
  const sim::write_log& log = disk.log();
  REQUIRE(log.size() == 4);
  CHECK(log.write_count() == 3);
  CHECK(log.entries()[1].op == sim::block_op::flush);

  auto at = [](const sim::RamDisk& d, std::uint64_t sector) { return d.image()[sector * 512]; };
  const sim::RamDisk none = log.image_after(base, {.entries = 0});
  CHECK(at(none, 0) == 0x99);
  const sim::RamDisk all = log.image_after(base, {.entries = 4});
  CHECK(std::equal(all.image().begin(), all.image().end(), ram.image().begin()));
  const sim::RamDisk torn = log.image_after(base, {.entries = 4, .torn_sectors = 1});
  CHECK(at(torn, 6) == 0xcc);
  CHECK(at(torn, 7) == 0);
  const sim::RamDisk torn_first = log.image_after(base, {.entries = 1, .torn_sectors = 0});
  CHECK(at(torn_first, 0) == 0x99);
  const sim::RamDisk lost = log.image_after(base, {.entries = 4, .fate = sim::unflushed::lost});
  CHECK(at(lost, 0) == 0xaa);  // flushed
  CHECK(at(lost, 4) == 0);     // its flush was lost
  CHECK(at(lost, 6) == 0);
  // Some unflushed writes land, some not, the same for the same seed.
  int landed[2] = {0, 0};
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    const sim::RamDisk some = log.image_after(base, {.entries = 4, .fate = sim::unflushed::some, .seed = seed});
    const sim::RamDisk again = log.image_after(base, {.entries = 4, .fate = sim::unflushed::some, .seed = seed});
    CHECK(std::equal(some.image().begin(), some.image().end(), again.image().begin()));
    CHECK(at(some, 0) == 0xaa);
    ++landed[at(some, 4) == 0xbb];
  }
  CHECK(landed[0] > 0);
  CHECK(landed[1] > 0);
}

TEST_CASE("fault disk: latency makes requests complete out of order; seeded faults replay", "[block]") {
  static_page_pool<8> pool;
  sim::RamDisk ram(512, 16);
  scheduler s;
  sim::ManualClock clock;
  sim::FaultDisk disk(ram, s);
  disk.delay(sim::block_op::write, 0, 5ms);
  disk.delay(sim::block_op::write, 1, 1ms);
  std::vector<int> order;
  const view a = page_of(pool, 512, 1), b = page_of(pool, 512, 2);
  // Named, so the coroutines' captures outlive the statement that spawns them.
  auto writer = [&](int id, const view& v) -> task<result<void>> {
    auto r = co_await disk.write(0, one(v));
    order.push_back(id);
    co_return r;
  };
  run_now(s, clock, [&]() -> task<int> {
    auto first = spawn(s, writer(0, a));
    auto second = spawn(s, writer(1, b));
    expect(co_await first.join(), error::none);
    expect(co_await second.join(), error::none);
    co_return 0;
  }());
  CHECK(order == std::vector<int>{1, 0});
  CHECK(ram.image()[0] == 1);  // the later completion wrote last

  auto errors = [&](std::uint64_t seed) {
    sim::RamDisk r(512, 16);
    sim::FaultDisk<sim::RamDisk> d(r, s, {.read_error_ppm = 300'000, .latency_min = 1us, .latency_max = 50us}, seed);
    std::vector<bool> failed;
    run_now(s, clock, [&]() -> task<int> {
      for (int i = 0; i < 64; ++i) failed.push_back(!(co_await d.read(0, one(a))).ok());
      co_return 0;
    }());
    return failed;
  };
  const auto run1 = errors(7), run2 = errors(7), run3 = errors(8);
  CHECK(run1 == run2);
  CHECK(run1 != run3);
  CHECK(std::count(run1.begin(), run1.end(), true) > 5);
}
