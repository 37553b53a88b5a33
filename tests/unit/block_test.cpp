// Block devices: the RAM disk and the fault-injecting disk (uni/sim/), and the
// request queue over them (uni/block/). Everything runs on a manual clock, so
// latency costs no wall time and every run replays from its seed. (Catch's
// REQUIRE throws, which a coroutine must not: coroutines use CHECK and return.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <source_location>
#include <vector>

#include <uni/block/request_queue.hpp>
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

TEST_CASE("fault disk: latency makes requests complete out of order, seeded faults replay", "[block]") {
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

TEST_CASE("request queue: a request longer than the driver takes is split, data in place", "[block]") {
  static_page_pool<8> pool;
  sim::RamDisk ram(512, 64);
  ram.limit_request(2);  // sectors
  scheduler s;
  sim::ManualClock clock;
  block::request_queue<sim::RamDisk, 4, 2> q(ram, s);  // and at most 2 views a piece
  STATIC_REQUIRE(BlockDevice<block::request_queue<sim::RamDisk, 4, 2>>);
  const std::array<view, 3> out{page_of(pool, 1536, 1), page_of(pool, 512, 2), page_of(pool, 1024, 3)};
  const std::array<view, 3> in{page_of(pool, 512, 0), page_of(pool, 2048, 0), page_of(pool, 512, 0)};
  for (std::size_t i = 0; i < 1536; ++i) out[0][i] = static_cast<std::uint8_t>(i * 7);
  run_now(s, clock, [&]() -> task<int> {
    expect(co_await q.write(5, out), error::none);  // sectors 5..10
    expect(co_await q.read(5, in), error::none);
    co_return 0;
  }());
  CHECK(q.statistics().split == 2);
  CHECK(q.statistics().pieces == 6);  // 2+1+2+1 sectors written... read 1+2+1 ... 3 each way
  CHECK(ram.statistics().refused == 0);
  std::vector<std::uint8_t> wrote(3072), read(3072);
  gather(out, wrote);
  gather(in, read);
  CHECK(wrote == read);
  CHECK(std::equal(wrote.begin(), wrote.end(), ram.image().begin() + 5 * 512));
  CHECK(q.in_flight() == 0);
}

TEST_CASE("request queue: every refusal before anything reaches the driver", "[block]") {
  static_page_pool<4> pool;
  sim::RamDisk ram(4096, 16, true);
  scheduler s;
  sim::ManualClock clock;
  block::request_queue<sim::RamDisk, 4> q(ram, s);
  const view page = page_of(pool, 4096, 0), half = page_of(pool, 2048, 0);
  run_now(s, clock, [&]() -> task<int> {
    expect(co_await q.read(16, one(page)), error::out_of_range);
    expect(co_await q.read(~std::uint64_t{0}, one(page)), error::out_of_range);
    expect(co_await q.read(0, one(half)), error::misaligned);
    expect(co_await q.write(0, one(page)), error::read_only);
    expect(co_await q.read(15, one(page)), error::none);
    expect(co_await q.flush(), error::none);
    co_return 0;
  }());
  CHECK(q.statistics().refused == 4);
  CHECK(ram.statistics().refused == 0);
  CHECK(ram.statistics().reads == 1);
}

TEST_CASE("request queue: a read the driver answers at once takes no slot, after the same checks", "[block]") {
  static_page_pool<8> pool;
  sim::RamDisk ram(512, 64);
  ram.limit_request(2);  // sectors
  scheduler s;
  block::request_queue<sim::RamDisk, 4, 2> q(ram, s);  // and at most 2 views a piece
  STATIC_REQUIRE(ReadsAtOnce<sim::RamDisk>);
  STATIC_REQUIRE(ReadsAtOnce<block::request_queue<sim::RamDisk, 4, 2>>);
  STATIC_REQUIRE_FALSE(ReadsAtOnce<sim::FaultDisk<sim::RamDisk>>);  // its faults need a task
  STATIC_REQUIRE_FALSE(ReadsAtOnce<block::request_queue<sim::FaultDisk<sim::RamDisk>>>);
  for (std::size_t i = 0; i < ram.image().size(); ++i) ram.image()[i] = static_cast<std::uint8_t>(i * 13);
  const view two = page_of(pool, 1024, 0), three = page_of(pool, 1536, 0), one_sector = page_of(pool, 512, 0);
  auto r = q.read_at_once(5, one(two));
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK(std::equal(two.data(), two.data() + 1024, ram.image().begin() + 5 * 512));
  CHECK(q.statistics().at_once == 1);
  CHECK(q.statistics().requests == 1);
  CHECK(q.statistics().pieces == 0);
  CHECK(q.in_flight() == 0);
  // What would go as pieces is read(): false, and nothing reaches the driver.
  r = q.read_at_once(5, one(three));  // 3 sectors, the driver takes 2
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  const std::array<view, 3> views{one_sector, one_sector, one_sector};  // 3 views, a piece takes 2
  r = q.read_at_once(5, views);
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(ram.statistics().reads == 1);
  CHECK(q.statistics().requests == 1);
  // The queue's checks, as for read().
  CHECK(q.read_at_once(64, one(one_sector)).err() == error::out_of_range);
  CHECK(q.read_at_once(0, one(page_of(pool, 100, 0))).err() == error::misaligned);
  CHECK(q.statistics().refused == 2);
  CHECK(ram.statistics().refused == 0);
}

TEST_CASE("request queue: full queue waits, completions out of order, each caller its own data", "[block]") {
  static_page_pool<16> pool;
  sim::RamDisk ram(512, 64);
  for (std::size_t i = 0; i < 8; ++i) std::memset(ram.image().data() + i * 512, static_cast<int>(i + 1), 512);
  scheduler s;
  sim::ManualClock clock;
  sim::FaultDisk disk(ram, s, {.latency_min = 1us, .latency_max = 900us}, 5);
  disk.delay(sim::block_op::read, 0, 5ms);
  disk.delay(sim::block_op::read, 1, 2ms);
  block::request_queue<sim::FaultDisk<sim::RamDisk>, 3> q(disk, s);
  std::vector<int> order;
  std::array<view, 8> into;
  for (auto& v : into) v = page_of(pool, 512, 0);
  auto reader = [&](int i) -> task<result<void>> {
    auto r = co_await q.read(static_cast<std::uint64_t>(i), one(into[static_cast<std::size_t>(i)]));
    order.push_back(i);
    co_return r;
  };
  run_now(s, clock, [&]() -> task<int> {
    std::array<join_handle<result<void>>, 8> all;
    for (int i = 0; i < 8; ++i) all[static_cast<std::size_t>(i)] = spawn(s, reader(i));
    for (auto& h : all) expect(co_await h.join(), error::none);
    co_return 0;
  }());
  CHECK(q.statistics().high_water == 3);
  CHECK(q.statistics().waited > 0);
  CHECK(order.size() == 8);
  CHECK(order.back() == 0);  // the first sent, the last done: the others passed it
  CHECK_FALSE(std::is_sorted(order.begin() + 1, order.end()));
  for (std::size_t i = 0; i < 8; ++i) CHECK(into[i][0] == i + 1);
}

TEST_CASE("request queue: a failing piece, an unplugged device: nothing hangs, every page comes back", "[block]") {
  static_page_pool<16> pool;
  sim::RamDisk ram(512, 64);
  ram.limit_request(1);
  scheduler s;
  sim::ManualClock clock;
  sim::FaultDisk disk(ram, s, {.latency_min = 10us, .latency_max = 100us}, 3);
  disk.fail_at(sim::block_op::write, 2);
  block::request_queue<sim::FaultDisk<sim::RamDisk>, 4> q(disk, s);
  {
    const view big = page_of(pool, 4096, 9);  // 8 pieces of one sector
    run_now(s, clock, [&]() -> task<int> {
      expect(co_await q.write(0, one(big)), error::io);
      co_return 0;
    }());
    CHECK(big.use_count() == 1);  // no piece holds a slice of it any more
  }
  CHECK(q.in_flight() == 0);
  CHECK(pool.available() == 16);

  {
    std::array<view, 6> pages;
    for (auto& v : pages) v = page_of(pool, 1024, 1);
    auto writer = [&](std::size_t i) -> task<result<void>> { co_return co_await q.write(i * 2, one(pages[i])); };
    auto unplug = [&]() -> task<int> {
      co_await s.sleep_for(150us);
      disk.unplug();
      co_return 0;
    };
    std::vector<error> got;
    run_now(s, clock, [&]() -> task<int> {
      std::array<join_handle<result<void>>, 6> all;
      for (std::size_t i = 0; i < 6; ++i) all[i] = spawn(s, writer(i));
      auto cut = spawn(s, unplug());
      for (auto& h : all) got.push_back((co_await h.join()).err());
      co_await cut.join();
      co_return 0;
    }());
    CHECK(std::count(got.begin(), got.end(), error::device_gone) > 0);
    CHECK(std::count(got.begin(), got.end(), error::none) + std::count(got.begin(), got.end(), error::device_gone) == 6);
    for (const view& v : pages) CHECK(v.use_count() == 1);
  }
  CHECK(q.in_flight() == 0);
  CHECK(pool.available() == 16);
}

TEST_CASE("request queue: more split requests than slots at once still all complete", "[block]") {
  static_page_pool<16> pool;
  sim::RamDisk ram(512, 64);
  ram.limit_request(1);
  scheduler s;
  sim::ManualClock clock;
  sim::FaultDisk disk(ram, s, {.latency_min = 1us, .latency_max = 20us}, 9);
  block::request_queue<sim::FaultDisk<sim::RamDisk>, 2> q(disk, s);  // each request below takes 4 pieces
  std::array<view, 6> pages;
  for (std::size_t i = 0; i < pages.size(); ++i) pages[i] = page_of(pool, 2048, static_cast<std::uint8_t>(i + 1));
  auto writer = [&](std::size_t i) -> task<result<void>> { co_return co_await q.write(i * 4, one(pages[i])); };
  run_now(s, clock, [&]() -> task<int> {
    std::array<join_handle<result<void>>, 6> all;
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = spawn(s, writer(i));
    for (auto& h : all) expect(co_await h.join(), error::none);
    co_return 0;
  }());
  CHECK(q.statistics().split == 6);
  CHECK(q.statistics().high_water == 2);
  for (std::size_t i = 0; i < pages.size(); ++i) CHECK(ram.image()[i * 2048 + 2047] == i + 1);
}
