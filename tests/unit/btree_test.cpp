// The copy-on-write B-tree store (uni/btree/store.hpp): the key-value rules
// against a model, snapshots, compaction in a small log, and crash safety.
//
// Crash safety is checked as the issue asks: a workload runs on a FaultDisk that
// records every write and flush; then, for every prefix of that log (each with
// the last write whole or torn after 0, 1 or 2 sectors, and the writes no flush
// covered kept, lost, or kept at random), the disk is rebuilt as the power cut
// would have left it and opened again. The store must open, and hold exactly
// the contents of a commit between the last one a completed flush made durable
// and the last one whose writes all happened: never anything else. Exhaustive
// on a small workload; on larger ones (the log wrapping, compaction, lost
// flushes) randomised from seeds.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <uni/block/request_queue.hpp>
#include <uni/btree/store.hpp>
#include <uni/core/run.hpp>
#include <uni/sim/fault_disk.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/sim/ram_disk.hpp>

#include "btree_small_config.hpp"

using namespace uni;

namespace {

using small_config = btree_small_config<24>;
constexpr std::uint64_t disk_sectors = 200;  // 198 log blocks of 512 bytes

using ram_store = btree::Store<sim::RamDisk, small_config>;
using fault_store = btree::Store<sim::FaultDisk<sim::RamDisk>, small_config>;
using model = std::map<std::string, std::string>;

static_assert(kv::Store<ram_store>);
static_assert(kv::Store<btree::Store<sim::RamDisk>>);

// Runs a task to its end (the RAM disk completes every request at once).
template <class T>
auto now(task<T> t) {
  scheduler s;
  sim::ManualClock clock;
  return run(s, clock, std::move(t));
}

view bytes_of(const std::string& s) {
  return view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

template <class S>
result<void> set(S& store, const std::string& k, const std::string& v) {
  const view value = bytes_of(v);
  return now(store.set(k, std::span<const view>(&value, 1)));
}
template <class S>
result<void> put(S& store, const std::string& k, const std::string& v) {
  const view value = bytes_of(v);
  return now(store.put(k, std::span<const view>(&value, 1)));
}

// Everything the store holds, through list() and get(); nullopt on any error.
// (The buffer fits the largest value of every configuration the tests use.)
template <class S>
std::optional<model> contents(S& store) {
  std::vector<std::string> keys;
  auto collect = [&](std::string_view k) { keys.emplace_back(k); };
  auto n = now(store.list("", collect));
  if (!n || *n != keys.size()) return std::nullopt;
  model m;
  for (const std::string& k : keys) {
    std::uint8_t out[btree::default_config::max_value];
    auto got = now(store.get(k, out));
    if (!got) return std::nullopt;
    m[k] = std::string(reinterpret_cast<const char*>(out), *got);
  }
  return m;
}

std::string key_of(std::uint64_t i) { return "k/" + std::to_string(i); }
std::string value_of(std::mt19937_64& rng, std::size_t step) {
  std::string v(rng() % (small_config::max_value - 8), static_cast<char>('a' + rng() % 26));
  return v + std::to_string(step);
}

// A store of `Config` formatted on `ram` with id `id`.
template <class Config>
std::unique_ptr<btree::Store<sim::RamDisk, Config>> new_store(sim::RamDisk& ram, std::uint64_t id) {
  auto store = std::make_unique<btree::Store<sim::RamDisk, Config>>(ram);
  REQUIRE(now(store->format(id)).ok());
  return store;
}

sim::RamDisk formatted(std::uint64_t id) {
  sim::RamDisk ram(512, disk_sectors);
  auto store = std::make_unique<ram_store>(ram);
  REQUIRE(now(store->format(id)).ok());
  return ram;
}

// --- crash harness -----------------------------------------------------------

// A workload's run: the contents after each commit, and where in the write log
// each commit's data writes end (where its flush comes, or would have come).
struct recorded_run {
  sim::RamDisk base{512, disk_sectors};
  std::vector<model> states;          // states[c]: after commit c (0: as formatted)
  std::vector<std::size_t> data_end;  // data_end[c]: one past commit c's last data write
  sim::write_log log;
};

// Runs `commits` batches of random puts and erases (and compactions) over
// `keys` keys, on a recording FaultDisk; `lost` flushes say yes and do nothing.
recorded_run record_workload(std::uint64_t seed, std::size_t commits, std::size_t keys, std::size_t max_batch,
                             std::initializer_list<std::uint64_t> lost = {}) {
  recorded_run r;
  r.base = formatted(seed);
  sim::RamDisk ram = r.base;
  sim::FaultDisk<sim::RamDisk> disk(ram);
  for (std::uint64_t f : lost) disk.lose_flush(f);
  disk.record();
  auto store = std::make_unique<fault_store>(disk);
  REQUIRE(now(store->open()).ok());
  std::mt19937_64 rng(seed);
  model m;
  r.states.push_back(m);
  r.data_end.push_back(0);
  for (std::size_t c = 1; c <= commits; ++c) {
    const std::size_t before = disk.log().size();
    if (rng() % 8 == 0) {  // a compaction step is a commit too
      REQUIRE(now(store->compact()).ok());
    } else {
      const std::size_t batch = 1 + rng() % max_batch;
      for (std::size_t i = 0; i < batch; ++i) {
        const std::string k = key_of(rng() % keys);
        if (rng() % 4 == 0 && m.count(k)) {
          REQUIRE(now(store->erase(k)).ok());
          m.erase(k);
        } else {
          const std::string v = value_of(rng, c);
          REQUIRE(put(*store, k, v).ok());
          m[k] = v;
        }
      }
      REQUIRE(now(store->commit()).ok());
    }
    const auto entries = disk.log().entries();
    std::size_t end = before;
    for (std::size_t i = before; i < entries.size(); ++i)
      if (entries[i].op == sim::block_op::write && entries[i].first >= 2) end = i + 1;  // not a slot
    if (end == before) {  // a compaction with nothing to copy wrote nothing
      r.states.back() = m;
      continue;
    }
    r.states.push_back(m);
    r.data_end.push_back(end);
  }
  r.log = disk.log();
  return r;
}

// Rebuilds the disk as the crash `c` leaves it, opens it, and checks it holds a
// state the crash allows. Returns an empty string or what went wrong.
std::string check_crash(const recorded_run& r, const sim::crash& c) {
  const auto entries = r.log.entries();
  std::size_t durable = 0;
  for (std::size_t i = 0; i < c.entries && i < entries.size(); ++i)
    if (entries[i].op == sim::block_op::flush) durable = std::max(durable, entries[i].covers);
  std::size_t low = 0, high = 0;
  for (std::size_t k = 1; k < r.data_end.size(); ++k) {
    if (r.data_end[k] <= durable) low = k;
    if (r.data_end[k] <= c.entries) high = k;
  }
  sim::RamDisk after = r.log.image_after(r.base, c);
  auto store = std::make_unique<ram_store>(after);
  auto opened = now(store->open());
  if (!opened) return std::string("open: ") + std::string(to_string(opened.err()));
  auto got = contents(*store);
  if (!got) return "reading the reopened store failed";
  for (std::size_t k = low; k <= high; ++k)
    if (*got == r.states[k]) return {};
  return "contents match no commit in [" + std::to_string(low) + ", " + std::to_string(high) + "]";
}

std::string describe(const sim::crash& c) {
  return "after " + std::to_string(c.entries) + " log entries, torn " +
         (c.torn_sectors == sim::whole ? std::string("no") : std::to_string(c.torn_sectors)) + ", unflushed " +
         std::to_string(static_cast<int>(c.fate)) + " (seed " + std::to_string(c.seed) + ")";
}

}  // namespace

// The checksum is part of the on-disk format: a store written by one build must
// open in the next. Known answers (bytes i*131+7, seed length*0x1234567), from
// the hash as it was when stores were first written.
TEST_CASE("btree: hash_of gives the known answers the on-disk format was written with", "[btree]") {
  std::vector<std::uint8_t> b(5000);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 131 + 7);
  const std::pair<std::size_t, std::uint64_t> known[] = {
      {0, 0x422baffcaeb00357}, {1, 0xb9187dbc8b716464},    {7, 0x647debaa032ef728},   {8, 0x2c9cc5f16a3df72c},
      {63, 0x59879584d3f3cfa0}, {64, 0xaed1252deea7506c},  {65, 0xfd2046c06db7d167},  {127, 0xa84a93824a8a79ff},
      {128, 0x61d8f18521a3f708}, {1000, 0x17910722893ca4e8}, {4096, 0x747d8eeccb5a48e2}, {5000, 0xa8f61b5e2bc8ebb4}};
  for (const auto& [length, hash] : known)
    CHECK(uni::btree::hash_of({b.data(), length}, length * 0x1234567ull) == hash);
}

// Room for a whole tree of 3000 entries in one batch: its commit writes every node.
struct one_batch_config : btree::default_config {
  static constexpr std::size_t dirty_nodes = 256;
};

TEST_CASE("btree: a separator is the shortest prefix of the right key above the left one", "[btree]") {
  auto sep = [](std::string_view left, std::string_view right) {
    auto bytes = [](std::string_view s) { return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); };
    return std::string(btree::as_text(btree::separator(bytes(left), bytes(right))));
  };
  CHECK(sep("abc", "abd") == "abd");
  CHECK(sep("abc", "abzzz") == "abz");
  CHECK(sep("ab", "abc") == "abc");   // the left key a prefix of the right: one byte past it
  CHECK(sep("a", "azzz") == "az");
  CHECK(sep("k/19", "k/2") == "k/2");
  CHECK(sep("abc", "b") == "b");
  CHECK(sep("\xff\x01", "\xff\x02\x03") == "\xff\x02");
  CHECK(sep("", "x") == "x");
}

// Keys of 150 bytes, the same but for their first six: with whole keys as the
// branches' entries, 2,000 of them need three levels (about 110 leaves under 5
// or 6 branches under the root); with separators of four bytes or so, the root
// holds every leaf. In a cache of four nodes, then, the root stays and gets
// read only their leaf (with whole keys, often a branch as well).
struct four_node_config : one_batch_config {
  static constexpr std::size_t cache_nodes = 4;
};

TEST_CASE("btree: branches name their children by short separators, so long keys make a shallow tree", "[btree]") {
  sim::RamDisk ram(512, 16384);
  auto store = new_store<four_node_config>(ram, 15);
  std::mt19937_64 rng(15);
  const std::string value(20, 'v'), tail(144, 'x');
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < 2000; ++i) {
    char k[7];
    std::snprintf(k, sizeof k, "%06llx", static_cast<unsigned long long>(rng() & 0xffffff));
    keys.push_back(k + tail);
    REQUIRE(put(*store, keys.back(), value).ok());
    if (i % 100 == 99) REQUIRE(now(store->commit()).ok());
  }
  std::uint8_t out[four_node_config::max_value];
  for (const std::string& k : keys) REQUIRE(now(store->get(k, out)).ok());
  const std::uint64_t before = store->statistics().cache_misses;
  constexpr std::size_t gets = 2000;
  for (std::size_t i = 0; i < gets; ++i) REQUIRE(now(store->get(keys[rng() % keys.size()], out)).ok());
  const double per_get = static_cast<double>(store->statistics().cache_misses - before) / gets;
  INFO(per_get << " node reads a get");
  CHECK(per_get < 1.02);
}

TEST_CASE("btree: sets, gets, removes and lists match a model, across reopening", "[btree]") {
  sim::RamDisk ram(512, disk_sectors);
  auto store = std::make_unique<ram_store>(ram);
  CHECK(now(store->open()).err() == error::not_found);  // a blank device holds no store
  REQUIRE(now(store->format(1)).ok());
  std::mt19937_64 rng(7);
  model m;
  for (std::size_t step = 0; step < 3000; ++step) {
    const std::string k = key_of(rng() % 150);
    if (rng() % 4 == 0) {
      const auto removed = now(store->remove(k));
      CHECK(removed.ok() == (m.erase(k) == 1));
      if (!removed) CHECK(removed.err() == error::not_found);
    } else {
      const std::string v = value_of(rng, step);
      REQUIRE(set(*store, k, v).ok());
      m[k] = v;
    }
    if (step % 700 == 699) {  // a fresh Store on the same device: only what was committed
      store = std::make_unique<ram_store>(ram);
      REQUIRE(now(store->open()).ok());
    }
    if (step % 250 == 0) REQUIRE(contents(*store) == m);
  }
  REQUIRE(contents(*store) == m);

  std::vector<std::string> listed;
  auto collect = [&](std::string_view k) { listed.emplace_back(k); };
  auto n = now(store->list("k/1", collect));
  REQUIRE(n.ok());
  std::vector<std::string> want;
  for (const auto& [k, v] : m)
    if (k.starts_with("k/1")) want.push_back(k);
  CHECK(listed == want);
  CHECK(*n == want.size());

  const std::string some = m.begin()->first;
  CHECK(*now(store->exists(some)));
  CHECK_FALSE(*now(store->exists("no/such/key")));
  auto d1 = now(store->digest(some));
  REQUIRE(d1.ok());
  CHECK(d1->text().size() == 16);
  REQUIRE(set(*store, some, m[some] + "x").ok());
  CHECK_FALSE(*now(store->digest(some)) == *d1);
  REQUIRE(set(*store, some, m[some]).ok());
  CHECK(*now(store->digest(some)) == *d1);
  CHECK(store->statistics().used_blocks <= store->statistics().log_blocks);
}

// The library's configuration for small records (1 KiB nodes) in a log of
// 4 MiB that the workload's writes go round several times: sets, removes,
// reopening and compaction as with the default nodes.
TEST_CASE("btree: small_records_config keeps a model's records across rewrites and reopening", "[btree]") {
  using small_records_store = btree::Store<sim::RamDisk, btree::small_records_config>;
  sim::RamDisk ram(512, 8192);
  auto store = new_store<btree::small_records_config>(ram, 16);
  std::mt19937_64 rng(16);
  model m;
  std::uint64_t written = 0;
  for (std::size_t step = 0; step < 20000; ++step) {
    char k[17];
    std::snprintf(k, sizeof k, "%016llx", static_cast<unsigned long long>(rng() % 3000 * 0x9e3779b97f4a7c15ull));
    if (rng() % 5 == 0) {
      const auto removed = now(store->erase(k));
      REQUIRE(removed.ok() == (m.erase(k) == 1));
    } else {
      const std::string v(rng() % (btree::small_records_config::max_value + 1), static_cast<char>('a' + step % 26));
      REQUIRE(put(*store, k, v).ok());
      m[k] = v;
    }
    if (step % 40 == 39) REQUIRE(now(store->commit()).ok());
    if (step % 5000 == 4999) {
      written += store->statistics().blocks_written;
      store = std::make_unique<small_records_store>(ram);
      REQUIRE(now(store->open()).ok());
    }
  }
  REQUIRE(now(store->commit()).ok());
  written += store->statistics().blocks_written;
  CHECK(written > 3 * store->statistics().log_blocks);  // the log went round
  CHECK(contents(*store) == m);
}

// A RAM disk that answers read_at_once() only every other time (as a page
// cache holds some blocks and not others): the store's lookups must take both
// ways, the coroutine's read() after a "no".
class sometimes_at_once : public sim::RamDisk {
 public:
  using sim::RamDisk::RamDisk;
  result<bool> read_at_once(std::uint64_t first, std::span<const view> into) noexcept {
    if (++asked % 2 == 0) return false;
    return sim::RamDisk::read_at_once(first, into);
  }
  std::uint64_t asked = 0;
};

TEST_CASE("btree: a lookup reads the nodes a device gives at once with no task, the others with one", "[btree]") {
  sometimes_at_once disk(512, disk_sectors);
  scheduler s;
  block::request_queue<sometimes_at_once, 4> q(disk, s);
  auto store = std::make_unique<btree::Store<block::request_queue<sometimes_at_once, 4>, small_config>>(q);
  REQUIRE(now(store->format(12)).ok());
  std::mt19937_64 rng(11);
  model m;
  for (std::size_t step = 0; step < 600; ++step) {
    const std::string k = key_of(rng() % 120), v = value_of(rng, step);
    REQUIRE(set(*store, k, v).ok());
    m[k] = v;
  }
  // A fresh store: every node it needs is a miss, read at once or not.
  store = std::make_unique<btree::Store<block::request_queue<sometimes_at_once, 4>, small_config>>(q);
  REQUIRE(now(store->open()).ok());
  const auto before = q.statistics();
  const std::uint64_t misses = store->statistics().cache_misses;
  REQUIRE(contents(*store) == m);
  const auto after = q.statistics();
  const std::uint64_t read_at_once = after.at_once - before.at_once, read_later = after.pieces - before.pieces;
  CHECK(read_at_once > 0);
  CHECK(read_later > 0);
  CHECK(read_at_once + read_later == store->statistics().cache_misses - misses);  // each miss read once
  CHECK(after.refused == 0);
  CHECK(q.in_flight() == 0);
}

TEST_CASE("btree: keys and values past the limits are refused, a short buffer is too_large", "[btree]") {
  sim::RamDisk ram(512, disk_sectors);
  ram_store store(ram);
  REQUIRE(now(store.format(2)).ok());
  CHECK(set(store, "", "v").err() == error::invalid_argument);
  CHECK(set(store, "../up", "v").err() == error::invalid_argument);
  CHECK(set(store, std::string(small_config::max_key + 1, 'k'), "v").err() == error::invalid_argument);
  CHECK(set(store, "k", std::string(small_config::max_value + 1, 'v')).err() == error::too_large);
  REQUIRE(set(store, "k", std::string(small_config::max_value, 'v')).ok());
  REQUIRE(set(store, "empty", "").ok());
  std::uint8_t out[8];
  CHECK(now(store.get("k", out)).err() == error::too_large);
  CHECK(*now(store.get("empty", out)) == 0);
  CHECK(now(store.get("missing", out)).err() == error::not_found);
  CHECK(now(store.remove("missing")).err() == error::not_found);
  CHECK(now(store.get(std::string(small_config::max_key + 1, 'k'), out)).err() == error::not_found);
}

TEST_CASE("btree: a sector size that does not divide the node, or a device too small, is refused", "[btree]") {
  sim::RamDisk big_sectors(1024, 400), tiny(512, 20);
  ram_store a(big_sectors), b(tiny);
  CHECK(now(a.format(1)).err() == error::invalid_argument);
  CHECK(now(b.format(1)).err() == error::no_space);
}

TEST_CASE("btree: a batch is one commit, and until then a reopened store has none of it", "[btree]") {
  sim::RamDisk ram(512, disk_sectors);
  auto store = std::make_unique<ram_store>(ram);
  REQUIRE(now(store->format(3)).ok());
  REQUIRE(put(*store, "a", "1").ok());
  REQUIRE(put(*store, "b", "2").ok());
  std::uint8_t out[8];
  CHECK(*now(store->get("a", out)) == 1);  // the working tree sees its own batch
  {
    ram_store other(ram);
    REQUIRE(now(other.open()).ok());
    CHECK(contents(other) == model{});
  }
  const auto generation = store->last_commit().generation;
  REQUIRE(now(store->commit()).ok());
  CHECK(store->last_commit().generation == generation + 1);
  ram_store other(ram);
  REQUIRE(now(other.open()).ok());
  CHECK(contents(other) == model{{"a", "1"}, {"b", "2"}});
}

TEST_CASE("btree: an old root stays readable as a snapshot until the log wraps over it", "[btree]") {
  sim::RamDisk ram(512, disk_sectors);
  ram_store store(ram);
  REQUIRE(now(store.format(4)).ok());
  for (int i = 0; i < 20; ++i) REQUIRE(set(store, key_of(i), "old").ok());
  const btree::snapshot old = store.last_commit();
  for (int i = 0; i < 20; ++i) REQUIRE(set(store, key_of(i), "new").ok());
  std::uint8_t out[8];
  auto then = now(store.get(old, key_of(3), out));
  REQUIRE(then.ok());
  CHECK(std::string(reinterpret_cast<char*>(out), *then) == "old");
  CHECK(*now(store.get(key_of(3), out)) == 3);
  // Enough commits to go round the log several times: the snapshot is gone,
  // reported as missing, never read from reused blocks.
  for (int round = 0; round < 400; ++round) REQUIRE(set(store, key_of(round % 20), "newer").ok());
  CHECK(now(store.get(old, key_of(3), out)).err() == error::not_found);
}

TEST_CASE("btree: compaction keeps many rewrites within a small log", "[btree]") {
  // A set() per rewrite, or batches of 150 puts: each outgrows the 40 dirty
  // nodes, and its parts are commits that must clean the log as commit() does.
  const std::size_t batch = GENERATE(1, 150);
  INFO("batch " << batch);
  sim::RamDisk ram(512, disk_sectors);
  auto store = std::make_unique<ram_store>(ram);
  REQUIRE(now(store->format(5)).ok());
  std::mt19937_64 rng(11);
  model m;
  // ~25 KiB of live data in a 99 KiB log, rewritten 20 times over.
  for (std::size_t step = 0; step < 4000; ++step) {
    const std::string k = key_of(rng() % 300);
    const std::string v = value_of(rng, step);
    const view value = bytes_of(v);
    const auto r = batch == 1 ? set(*store, k, v) : now(store->put(k, std::span<const view>(&value, 1)));
    INFO("step " << step << ": " << to_string(r.err()));
    REQUIRE(r.ok());
    m[k] = v;
    if (step % batch == batch - 1) REQUIRE(now(store->commit()).ok());
  }
  REQUIRE(now(store->commit()).ok());
  CHECK(store->statistics().compactions > 0);
  CHECK(2 * store->statistics().used_blocks <= store->statistics().log_blocks + 2 * small_config::dirty_nodes);
  store = std::make_unique<ram_store>(ram);
  REQUIRE(now(store->open()).ok());
  CHECK(contents(*store) == m);
}

// Many leaves, each commit rewriting a few dozen of them (~55 blocks with their
// branches), in a log three times the live data. Cleaning a fixed 8 blocks a
// commit fell behind: the log was full by the tenth batch. Cleaning as many
// blocks as the last commit appended keeps it just past half full (~550 of
// 1,000 blocks used while 39,000 are written).
struct paced_config : btree_small_config<8> {
  static constexpr std::size_t cache_nodes = 64;
  static constexpr std::size_t dirty_nodes = 128;  // a batch's rewrites and the step's copies in one commit
};

TEST_CASE("btree: cleaning keeps pace with commits that each rewrite many leaves of a large tree", "[btree]") {
  sim::RamDisk ram(512, 1002);  // a log of 1,000 blocks; the data is ~340
  auto store = new_store<paced_config>(ram, 17);
  std::mt19937_64 rng(17);
  const std::string value = "12345678";
  constexpr std::size_t keys = 6000;
  for (std::size_t i = 0; i < keys; ++i) {
    REQUIRE(put(*store, key_of(i), value).ok());
    if (i % 200 == 199) REQUIRE(now(store->commit()).ok());
  }
  for (std::size_t batch = 0; batch < 400; ++batch) {
    for (std::size_t i = 0; i < 30; ++i) REQUIRE(put(*store, key_of(rng() % keys), value).ok());
    const auto r = now(store->commit());
    INFO("batch " << batch << ", " << store->statistics().used_blocks << " blocks used");
    REQUIRE(r.ok());
  }
  std::uint8_t out[paced_config::max_value];
  for (std::size_t i = 0; i < keys; i += 7) REQUIRE(now(store->get(key_of(i), out)).ok());
}

TEST_CASE("btree: random inserts leave the leaves about four-fifths full (a full leaf shares with a sibling)",
          "[btree]") {
  sim::RamDisk ram(512, 16384);  // 8 MiB
  auto store = new_store<one_batch_config>(ram, 12);
  std::mt19937_64 rng(12);
  const std::string value(100, 'v');
  constexpr std::size_t keys = 3000;
  for (std::size_t i = 0; i < keys; ++i) {
    char k[17];
    std::snprintf(k, sizeof k, "%016llx", static_cast<unsigned long long>(rng()));
    REQUIRE(put(*store, k, value).ok());
  }
  const auto before = store->statistics();
  REQUIRE(now(store->commit()).ok());
  REQUIRE(store->statistics().commits == before.commits + 1);  // one commit: every node, and its record
  const auto nodes = store->statistics().blocks_written - before.blocks_written - 1;
  const double full = static_cast<double>(keys * btree::entry_cost(16, 100)) /
                      static_cast<double>((nodes - 1) * (4096 - btree::node_header));  // the root aside
  INFO(nodes << " nodes, leaves " << full << " full");
  CHECK(full > 0.78);  // splitting alone leaves them about 0.69 full
}

// 512-byte nodes and a 64-node cache: the tree below has ~36 branches, more
// than half the cache, so many sets hold several of them.
struct crowded_cache_config : btree_small_config<24> {
  static constexpr std::size_t cache_nodes = 64;
};

TEST_CASE("btree: random gets keep the branches cached when they fill half the cache (leaves give way)", "[btree]") {
  sim::RamDisk ram(512, 16384);
  auto store = new_store<crowded_cache_config>(ram, 13);
  std::mt19937_64 rng(13);
  const std::string value(20, 'v');
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < 3000; ++i) {
    char k[17];
    std::snprintf(k, sizeof k, "%016llx", static_cast<unsigned long long>(rng()));
    keys.emplace_back(k);
    REQUIRE(put(*store, k, value).ok());
    if (i % 100 == 99) REQUIRE(now(store->commit()).ok());
  }
  REQUIRE(now(store->commit()).ok());
  std::uint8_t out[crowded_cache_config::max_value];
  for (const std::string& k : keys) REQUIRE(now(store->get(k, out)).ok());  // every branch found once
  const std::uint64_t before = store->statistics().cache_misses;
  constexpr std::size_t gets = 20000;
  for (std::size_t i = 0; i < gets; ++i) REQUIRE(now(store->get(keys[rng() % keys.size()], out)).ok());
  const double per_get = static_cast<double>(store->statistics().cache_misses - before) / gets;
  INFO(per_get << " node reads a get");
  CHECK(per_get < 1.06);  // the leaf, and now and then a branch of a set with more than four (the two-way cache it replaced: 1.21)
}

// One set of four ways under a tree of many more branches, read in key order:
// now and then all four ways hold branches the lookups found, and a lookup reads
// outside the cache (in this workload a branch, which then takes a way: the
// path no other test takes). Whatever the cache holds, every get reads what was
// written.
struct one_set_config : btree_small_config<24> {
  static constexpr std::size_t cache_nodes = 4;
};

TEST_CASE("btree: gets through a one-set cache crowded by branches read what was written", "[btree]") {
  sim::RamDisk ram(512, 16384);
  auto store = new_store<one_set_config>(ram, 14);
  std::mt19937_64 rng(14);
  model m;
  for (std::size_t step = 0; step < 3000; ++step) {
    const std::string k = key_of(rng() % 2500), v = value_of(rng, step);
    REQUIRE(put(*store, k, v).ok());
    m[k] = v;
    if (step % 50 == 49) REQUIRE(now(store->commit()).ok());
  }
  REQUIRE(now(store->commit()).ok());
  for (int pass = 0; pass < 3; ++pass) {  // the later passes find the set full of branches
    for (const auto& [k, v] : m) {
      std::uint8_t out[one_set_config::max_value];
      auto got = now(store->get(k, out));
      REQUIRE(got.ok());
      REQUIRE(std::string(reinterpret_cast<const char*>(out), *got) == v);
    }
  }
  CHECK(contents(*store) == m);  // list() and gets after them
}

TEST_CASE("btree: a failed write leaves the last commit, and the store refuses work until reopened", "[btree]") {
  sim::RamDisk ram = formatted(6);
  sim::FaultDisk<sim::RamDisk> disk(ram);
  auto store = std::make_unique<fault_store>(disk);
  REQUIRE(now(store->open()).ok());
  REQUIRE(set(*store, "a", "1").ok());
  disk.tear(disk.statistics().writes, 1);  // the next write lands in its first sector only
  CHECK(set(*store, "b", "2").err() == error::io);
  CHECK(set(*store, "c", "3").err() == error::io);
  store = std::make_unique<fault_store>(disk);
  REQUIRE(now(store->open()).ok());
  CHECK(contents(*store) == model{{"a", "1"}});
  REQUIRE(set(*store, "c", "3").ok());
  CHECK(contents(*store) == model{{"a", "1"}, {"c", "3"}});
}

TEST_CASE("btree: a power cut after any write of a small workload leaves a committed state (exhaustive)",
          "[btree][crash]") {
  const recorded_run r = record_workload(21, 30, 12, 3);  // 30 commits: most write no slot, so 6 more than before for as long a log
  REQUIRE(r.log.size() > 60);
  std::size_t checked = 0;
  for (std::size_t n = 0; n <= r.log.size(); ++n)
    for (std::uint64_t torn : {sim::whole, std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2}})
      for (auto fate : {sim::unflushed::kept, sim::unflushed::lost, sim::unflushed::some})
        for (std::uint64_t seed : {1, 2}) {
          if (fate != sim::unflushed::some && seed != 1) continue;
          const sim::crash c{n, torn, fate, seed};
          const std::string problem = check_crash(r, c);
          INFO(describe(c));
          REQUIRE(problem == "");
          ++checked;
        }
  CHECK(checked > 1000);
}

TEST_CASE("btree: power cuts in larger workloads, the log wrapping and lost flushes (seeded)", "[btree][crash]") {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    std::mt19937_64 rng(seed * 977);
    // Two flushes in the run say yes and make nothing durable.
    const recorded_run r = record_workload(seed, 160, 60, 8, {20 + rng() % 60, 90 + rng() % 60});
    INFO("seed " << seed);
    for (std::size_t i = 0; i < 150; ++i) {
      const std::uint64_t torn_choices[] = {sim::whole, 0, 1, 2, 5};
      const sim::crash c{rng() % (r.log.size() + 1), torn_choices[rng() % 5],
                         static_cast<sim::unflushed>(rng() % 3), rng()};
      const std::string problem = check_crash(r, c);
      INFO(describe(c));
      REQUIRE(problem == "");
    }
  }
}

TEST_CASE("btree: a scribbled image opens with an error or reads with errors, never more", "[btree]") {
  sim::RamDisk good = formatted(8);
  {
    auto store = std::make_unique<ram_store>(good);
    REQUIRE(now(store->open()).ok());
    std::mt19937_64 rng(3);
    for (std::size_t i = 0; i < 300; ++i) REQUIRE(set(*store, key_of(rng() % 80), value_of(rng, i)).ok());
  }
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    sim::RamDisk bad = good;
    for (int i = 0; i < 1 + trial % 8; ++i) bad.image()[rng() % bad.image().size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    auto store = std::make_unique<ram_store>(bad);
    if (!now(store->open())) continue;
    (void)contents(*store);  // errors are fine; a crash, a hang or a sanitizer report is not
    (void)set(*store, "after/scribble", "v");
  }
}
