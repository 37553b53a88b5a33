// The storage concepts with no implementation in the library yet: a block
// device (uni/block/concepts.hpp) and a read-write key-value store
// (uni/kv/concepts.hpp). Each is met by a small in-memory type written here,
// checked by the concept and exercised, so the concept is compiled against a
// real implementation and its rules (ranges, sector multiples, read-only,
// missing keys, sizes) are tested, not just written down. (Catch's REQUIRE
// throws, which a coroutine must not: the coroutines return 1 instead.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <uni/block/concepts.hpp>
#include <uni/core/run.hpp>
#include <uni/kv/concepts.hpp>
#include <uni/sim/manual_clock.hpp>

using namespace uni;

namespace {

// Sectors in an array; requests complete at once.
template <std::size_t SectorSize, std::size_t Sectors>
class memory_disk {
 public:
  explicit memory_disk(bool read_only = false) : read_only_(read_only) {}
  std::size_t sector_size() const noexcept { return SectorSize; }
  std::uint64_t sectors() const noexcept { return Sectors; }
  bool read_only() const noexcept { return read_only_; }
  std::size_t flushes() const noexcept { return flushes_; }

  task<result<void>> read(std::uint64_t first, std::span<const view> into) {
    auto at = check(first, into);
    if (!at) co_return fail(at.err());
    std::size_t offset = *at;
    for (const view& v : into) {
      std::memcpy(v.data(), bytes_.data() + offset, v.size());
      offset += v.size();
    }
    co_return result<void>{};
  }
  task<result<void>> write(std::uint64_t first, std::span<const view> from) {
    if (read_only_) co_return fail(error::permission);
    auto at = check(first, from);
    if (!at) co_return fail(at.err());
    std::size_t offset = *at;
    for (const view& v : from) {
      std::memcpy(bytes_.data() + offset, v.data(), v.size());
      offset += v.size();
    }
    co_return result<void>{};
  }
  task<result<void>> flush() {
    ++flushes_;
    co_return result<void>{};
  }

 private:
  // The byte offset of `first`, if the views are whole sectors within the device.
  static result<std::size_t> check(std::uint64_t first, std::span<const view> views) noexcept {
    std::uint64_t count = 0;
    for (const view& v : views) {
      if (v.size() % SectorSize != 0) return fail(error::invalid_argument);
      count += v.size() / SectorSize;
    }
    if (first > Sectors || count > Sectors - first) return fail(error::invalid_argument);
    return static_cast<std::size_t>(first * SectorSize);
  }

  std::array<std::uint8_t, SectorSize * Sectors> bytes_{};
  bool read_only_;
  std::size_t flushes_ = 0;
};

static_assert(BlockDevice<memory_disk<512, 64>>, "the test disk must be a BlockDevice");

// Up to N values of up to MaxValue bytes each; the digest is the FNV-1a hash
// of the value, in hex.
template <std::size_t N, std::size_t MaxValue>
class memory_store {
 public:
  task<result<std::size_t>> get(std::string_view key, std::span<std::uint8_t> out) {
    auto e = find(key);
    if (!e) co_return fail(e.err());
    if ((*e)->size > out.size()) co_return fail(error::too_large);
    std::copy_n((*e)->value.begin(), (*e)->size, out.begin());
    co_return (*e)->size;
  }
  task<result<void>> set(std::string_view key, std::span<const view> value) {
    if (!kv::valid_key(key) || key.size() > max_key) co_return fail(error::invalid_argument);
    if (total_size(value) > MaxValue) co_return fail(error::too_large);
    entry* e = nullptr;
    if (auto found = find(key)) e = *found;
    for (std::size_t i = 0; i < N && !e; ++i)
      if (!table_[i].used) e = &table_[i];
    if (!e) co_return fail(error::table_full);
    e->used = true;
    e->key_size = key.size();
    std::copy(key.begin(), key.end(), e->key.begin());
    e->size = 0;
    for (const view& v : value) {
      std::memcpy(e->value.data() + e->size, v.data(), v.size());
      e->size += v.size();
    }
    co_return result<void>{};
  }
  task<result<void>> remove(std::string_view key) {
    auto e = find(key);
    if (!e) co_return fail(e.err());
    (*e)->used = false;
    co_return result<void>{};
  }
  task<result<bool>> exists(std::string_view key) {
    auto e = find(key);
    if (!e && e.err() != error::not_found) co_return fail(e.err());
    co_return e.ok();
  }
  task<result<kv::digest>> digest(std::string_view key) {
    auto e = find(key);
    if (!e) co_return fail(e.err());
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < (*e)->size; ++i) h = (h ^ (*e)->value[i]) * 0x100000001b3ull;
    char hex[16];
    for (int i = 15; i >= 0; --i, h >>= 4) hex[i] = "0123456789abcdef"[h & 15];
    co_return kv::digest(std::string_view(hex, 16));
  }
  task<result<std::size_t>> list(std::string_view prefix, kv::key_visitor each) {
    std::array<std::string_view, N> found;
    std::size_t n = 0;
    for (const entry& e : table_)
      if (e.used && e.name().starts_with(prefix)) found[n++] = e.name();
    std::sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(n));
    for (std::size_t i = 0; i < n; ++i) each(found[i]);
    co_return n;
  }

 private:
  static constexpr std::size_t max_key = 64;
  struct entry {
    bool used = false;
    std::array<char, max_key> key{};
    std::size_t key_size = 0;
    std::array<std::uint8_t, MaxValue> value{};
    std::size_t size = 0;
    std::string_view name() const noexcept { return {key.data(), key_size}; }
  };
  result<entry*> find(std::string_view key) noexcept {
    if (!kv::valid_key(key)) return fail(error::invalid_argument);
    for (entry& e : table_)
      if (e.used && e.name() == key) return &e;
    return fail(error::not_found);
  }
  std::array<entry, N> table_{};
};

static_assert(kv::Store<memory_store<4, 64>>, "the test store must be a kv::Store");

view bytes_of(std::string_view s) {
  return view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

int run_now(task<int> t) {
  scheduler s;
  sim::ManualClock clock;
  auto r = run(s, clock, std::move(t));
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("block device: sector ranges in and out of I/O pages, bounds, read-only, flush", "[block]") {
  static_page_pool<4> pool;
  memory_disk<512, 64> disk;
  auto body = [&]() -> task<int> {
    auto a = pool.allocate(), b = pool.allocate();
    if (!(a.ok() && b.ok())) co_return 1;
    a->truncate(1024);
    b->truncate(512);
    std::memset(a->data(), 0xa5, 1024);
    std::memset(b->data(), 0x5a, 512);
    const std::array<view, 2> out{*a, *b};
    auto wrote = co_await disk.write(10, out);  // sectors 10, 11 and 12
    if (!wrote) co_return 1;
    auto flushed = co_await disk.flush();
    if (!flushed) co_return 1;

    auto c = pool.allocate();
    if (!c) co_return 1;
    c->truncate(2048);  // sectors 9 to 12
    std::memset(c->data(), 0xff, 2048);
    const view into[] = {*c};
    auto got = co_await disk.read(9, into);
    if (!got) co_return 1;
    CHECK(c->data()[0] == 0);  // sector 9 was never written
    CHECK(c->data()[512] == 0xa5);
    CHECK(c->data()[1535] == 0xa5);
    CHECK(c->data()[1536] == 0x5a);
    CHECK(c->data()[2047] == 0x5a);

    const view last[] = {c->head(1024)};
    auto past = co_await disk.read(63, last);
    CHECK(past.err() == error::invalid_argument);  // past the end
    auto at_end = co_await disk.read(62, last);
    CHECK(at_end.ok());
    const view partial[] = {c->head(100)};
    auto part = co_await disk.read(0, partial);
    CHECK(part.err() == error::invalid_argument);  // not whole sectors
    co_return 0;
  };
  CHECK(run_now(body()) == 0);
  CHECK(disk.flushes() == 1);
  CHECK(disk.sectors() * disk.sector_size() == 32768);

  memory_disk<512, 8> rom(true);
  auto write_rom = [&]() -> task<int> {
    auto p = pool.allocate();
    p->truncate(512);
    const view one[] = {*p};
    auto refused = co_await rom.write(0, one);
    CHECK(refused.err() == error::permission);
    auto read_back = co_await rom.read(0, one);
    CHECK(read_back.ok());
    co_return 0;
  };
  CHECK(rom.read_only());
  CHECK(run_now(write_rom()) == 0);
}

TEST_CASE("kv store: set, get, exists, digest, list, remove, with missing keys and bounds", "[kv]") {
  memory_store<4, 64> s;
  auto body = [&]() -> task<int> {
    const view hello[] = {bytes_of("hello, "), bytes_of("store")};
    auto set_en = co_await s.set("greeting/en", hello);
    if (!set_en) co_return 1;
    const view other[] = {bytes_of("hallo")};
    auto set_de = co_await s.set("greeting/de", other);
    if (!set_de) co_return 1;

    std::array<std::uint8_t, 64> out;
    auto n = co_await s.get("greeting/en", out);
    if (!n) co_return 1;
    CHECK(std::string_view(reinterpret_cast<const char*>(out.data()), *n) == "hello, store");
    std::array<std::uint8_t, 4> small;
    auto short_buffer = co_await s.get("greeting/en", small);
    CHECK(short_buffer.err() == error::too_large);
    auto de_exists = co_await s.exists("greeting/de");
    CHECK(*de_exists);
    auto fr_exists = co_await s.exists("greeting/fr");
    CHECK_FALSE(*fr_exists);
    auto missing = co_await s.get("greeting/fr", out);
    CHECK(missing.err() == error::not_found);
    auto climbing = co_await s.get("../greeting/en", out);
    CHECK(climbing.err() == error::invalid_argument);

    const kv::digest d = *co_await s.digest("greeting/de");
    auto en_digest = co_await s.digest("greeting/en");
    CHECK_FALSE(d == *en_digest);
    const view changed[] = {bytes_of("guten tag")};
    auto reset_de = co_await s.set("greeting/de", changed);
    if (!reset_de) co_return 1;
    auto new_digest = co_await s.digest("greeting/de");
    CHECK_FALSE(d == *new_digest);

    std::vector<std::string> keys;
    auto add = [&](std::string_view k) { keys.emplace_back(k); };
    auto listed = co_await s.list("greeting/", add);
    CHECK(*listed == 2);
    CHECK(keys == std::vector<std::string>{"greeting/de", "greeting/en"});

    auto removed = co_await s.remove("greeting/de");
    if (!removed) co_return 1;
    auto removed_again = co_await s.remove("greeting/de");
    CHECK(removed_again.err() == error::not_found);
    auto still_there = co_await s.exists("greeting/de");
    CHECK_FALSE(*still_there);

    const std::string big(65, 'x');
    const view too_big[] = {bytes_of(big)};
    auto oversized = co_await s.set("big", too_big);
    CHECK(oversized.err() == error::too_large);
    co_return 0;
  };
  CHECK(run_now(body()) == 0);
}
