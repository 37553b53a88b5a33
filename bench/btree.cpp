// bench/btree.cpp: uni's copy-on-write B-tree store beside LMDB and SQLite, on the
// same file system with the same durability: every batch of puts is one commit,
// synced to the device before the next begins (uni: its commit's write and
// flush, here fdatasync; LMDB: mdb_txn_commit with the default MDB_SYNC; SQLite:
// a transaction in WAL mode with synchronous=FULL).
//
// Phases: `--preload` puts of distinct random keys (16 bytes), untimed, in
// batches of 100 (a store many times the size of uni's memory, quickly); then
// `keys` more with values of `--value` bytes, in batches of `--batch` per
// commit, timed as committed puts per second; then `gets` lookups of random
// existing keys, timed as gets per second; then the same lookups again, "warm"
// (LMDB: every page of its map they touch is mapped by then: its steady state,
// where the first pass still pays a page fault for each page it meets first).
// Each engine runs in its own
// process (--engine), so the memory figures are its own: the cache the engine
// is given; its memory (uni: sizeof the store, all it ever uses; LMDB: its map,
// the file, whose pages random gets all touch and keep resident; SQLite: its
// cache_size); and the process's resident memory right after the gets (VmRSS,
// LMDB's counting the pages of its map the gets touched).
// Output: one `btree engine=... key=value ...` line.
//
// uni's device here is a file, through one of two drivers: --device uring (the
// default) is the appliances' own, io_uring (uni/posix/uring_disk.hpp) behind
// a block::request_queue, run by the POSIX run loop; --device file is
// preadv/pwritev of whole 4 KiB blocks with fdatasync as flush, in the caller's
// thread. By default the file goes through the host's page cache, as LMDB's map
// and SQLite's file do; with --direct 1 it is opened O_DIRECT, so every node the
// store's own cache misses is a device read and its memory is that cache alone.
// --dsync 1 opens the ring's file O_DSYNC: each write is durable as it completes
// and the store's flush costs no request (UringDisk's `synced`). The ring's
// buffered reads ask the page cache first (preadv2 with RWF_NOWAIT, UringDisk's
// try_page_cache), --nowait 0 puts every one on the ring, for comparison; the
// device's counts go to stderr.
//
// uni's node cache is the default configuration's 1 MiB, or with --cache-mib 4
// four times that: room for the branches of a million keys (~2 MiB), as a user
// of a store that size would configure it. --node-kib 1 takes the library's
// small_records_config (1 KiB nodes; values up to 180 bytes) instead of the
// default's 4 KiB nodes, with the same cache in bytes.
//
// Usage: bench_btree --engine uni|lmdb|sqlite --dir DIR [--keys 100000] [--preload 0]
//        [--batch 1] [--gets 200000] [--value 100] [--seed 1] [--direct 0]
//        [--device uring|file] [--dsync 0] [--nowait 1] [--cache-mib 1|4] [--node-kib 4|1]
#include <fcntl.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <uni/block/request_queue.hpp>
#include <uni/btree/store.hpp>
#include <uni/core/run.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/uring_disk.hpp>
#include <uni/sim/manual_clock.hpp>

#include "bench_util.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}
// This process's CPU time so far, in seconds: all of it (user and system: per-
// operation cost that a loaded machine's stolen wall time does not inflate), and
// the system part (the kernel's work in its calls: uni's reads of nodes from the
// page cache).
struct cpu_mark {
  double total = 0, system = 0;
  static cpu_mark now() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return {static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9,
            static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6};
  }
};

// A BlockDevice over a file: whole 4 KiB blocks, fdatasync as flush.
class file_disk {
 public:
  file_disk(const std::string& path, std::uint64_t bytes, bool direct) {
    fd_ = make_file(path, bytes, direct);
    sectors_ = bytes / 4096;
  }
  // Creates the file written whole, as a disk is: a write into a hole would make
  // each sync commit the file system's allocation too.
  static int make_file(const std::string& path, std::uint64_t bytes, bool direct) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0) std::perror("file_disk"), std::exit(1);
    alignas(4096) static std::uint8_t zeros[1 << 20];
    for (std::uint64_t at = 0; at < bytes; at += sizeof zeros)
      if (::pwrite(fd, zeros, sizeof zeros, static_cast<off_t>(at)) != sizeof zeros) std::perror("file_disk"), std::exit(1);
    ::fsync(fd);
    return fd;
  }
  ~file_disk() { ::close(fd_); }
  std::size_t sector_size() const noexcept { return 4096; }
  std::uint64_t sectors() const noexcept { return sectors_; }
  bool read_only() const noexcept { return false; }
  uni::task<uni::result<void>> read(std::uint64_t first, std::span<const uni::view> into) {
    co_return transfer(first, into, false);
  }
  uni::task<uni::result<void>> write(std::uint64_t first, std::span<const uni::view> from) {
    co_return transfer(first, from, true);
  }
  uni::task<uni::result<void>> flush() {
    if (::fdatasync(fd_) != 0) co_return uni::fail(uni::error::io);
    co_return uni::result<void>{};
  }

 private:
  uni::result<void> transfer(std::uint64_t first, std::span<const uni::view> views, bool out) {
    iovec iov[IOV_MAX];
    std::size_t n = 0, bytes = 0;
    for (const uni::view& v : views) {
      if (n == IOV_MAX) return uni::fail(uni::error::too_large);
      iov[n++] = {v.data(), v.size()};
      bytes += v.size();
    }
    const off_t at = static_cast<off_t>(first * 4096);
    const ssize_t done = out ? ::pwritev(fd_, iov, static_cast<int>(n), at) : ::preadv(fd_, iov, static_cast<int>(n), at);
    if (done != static_cast<ssize_t>(bytes)) return uni::fail(uni::error::io);
    return {};
  }
  int fd_;
  std::uint64_t sectors_;
};
static_assert(uni::BlockDevice<file_disk>);

struct workload {
  std::vector<std::string> keys;
  std::size_t preload = 0;  // keys[0, preload) are put first, untimed, in batches of preload_batch
  std::string value;
  std::vector<std::uint32_t> reads;
};

constexpr std::size_t preload_batch = 100;

// The end of the batch of puts that starts at key `i`.
std::size_t batch_end(const workload& w, std::size_t i, std::size_t batch) {
  return i < w.preload ? std::min(i + preload_batch, w.preload) : std::min(i + batch, w.keys.size());
}

struct figures {
  double put_s = 0, get_s = 0;
  double get_cpu_s = 0, get_sys_s = 0;  // CPU time of the gets, and its system part
  double warm_get_s = 0, warm_get_cpu_s = 0, warm_get_sys_s = 0;  // the second pass of the same gets

  // Ends pass `pass` of the gets (0, then 1: warm), begun at `t` with `cpu` used;
  // after the first, the resident set.
  void gets_done(int pass, clock_type::time_point t, cpu_mark cpu);
  std::size_t cache_bytes = 0;
  std::size_t memory_bytes = 0;  // uni: the whole store object; LMDB: its map; SQLite: cache_size
  std::int64_t rss_bytes = 0;     // the process's resident set right after the gets
  std::size_t found = 0;
  double misses_per_get = 0;  // uni: node reads from the device per get (its cache's misses)
};

void figures::gets_done(int pass, clock_type::time_point t, cpu_mark cpu) {
  const cpu_mark end = cpu_mark::now();
  (pass == 0 ? get_s : warm_get_s) = seconds_since(t);
  (pass == 0 ? get_cpu_s : warm_get_cpu_s) = end.total - cpu.total;
  (pass == 0 ? get_sys_s : warm_get_sys_s) = end.system - cpu.system;
  if (pass == 0) rss_bytes = bench::status_bytes("VmRSS");
}

// A store configuration with a node cache of `CacheMib` MiB.
template <class Base, std::size_t CacheMib>
struct cache_mib_config : Base {
  static constexpr std::size_t cache_nodes = CacheMib * (std::size_t{1} << 20) / Base::node_size;
};

// The store's workload on `disk`, run by `clock`'s loop.
template <class Config, class Disk, class Clock>
figures run_uni_on(Disk& disk, Clock& clock, uni::scheduler& sched, const workload& w, std::size_t batch) {
  using uni_store = uni::btree::Store<Disk, Config>;
  figures f;
  auto store = std::make_unique<uni_store>(disk);
  f.cache_bytes = uni_store::cache_bytes;
  f.memory_bytes = sizeof(uni_store);  // node cache, dirty nodes, scratch blocks: all it ever uses
  uni::error why{};
  auto main = [&]() -> uni::task<int> {
    if (!co_await store->format(static_cast<std::uint64_t>(clock_type::now().time_since_epoch().count()))) co_return 1;
    const uni::view value = uni::view::unowned(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(w.value.data()), w.value.size()));
    auto t = clock_type::now();
    for (std::size_t i = 0, end; i < w.keys.size(); i = end) {
      if (i == w.preload) t = clock_type::now();
      end = batch_end(w, i, batch);
      for (std::size_t j = i; j < end; ++j) {
        auto put = co_await store->put(w.keys[j], std::span<const uni::view>(&value, 1));
        if (!put) co_return why = put.err(), 2;
      }
      auto commit = co_await store->commit();  // cleans the log as it goes
      if (!commit) co_return why = commit.err(), 3;
    }
    f.put_s = seconds_since(t);
    std::uint8_t out[4096];
    const auto before = store->statistics().cache_misses;
    for (int pass = 0; pass < 2; ++pass) {
      t = clock_type::now();
      const cpu_mark cpu = cpu_mark::now();
      for (std::uint32_t k : w.reads)
        if (co_await store->get(w.keys[k], out) && pass == 0) ++f.found;
      f.gets_done(pass, t, cpu);
      if (pass == 0)
        f.misses_per_get = static_cast<double>(store->statistics().cache_misses - before) / static_cast<double>(w.reads.size());
    }
    co_return 0;
  };
  auto r = uni::run(sched, clock, main());
  if (!r || *r != 0) {
    const std::string_view what = uni::to_string(why);
    std::fprintf(stderr, "uni: failed at step %d: %.*s\n", r ? *r : -1, static_cast<int>(what.size()), what.data());
    std::exit(1);
  }
  return f;
}

template <class Config>
figures run_uni(const std::string& dir, const workload& w, std::size_t batch, bool direct, bool uring, bool dsync,
                bool nowait) {
  // Room for the data four times over (the log is cleaned when half full).
  const std::uint64_t bytes = std::max<std::uint64_t>(64 << 20, w.keys.size() * (w.value.size() + 64) * 8) & ~std::uint64_t{(1 << 20) - 1};
  const std::string path = dir + "/uni-btree.img";
  uni::scheduler sched;
  if (!uring) {
    file_disk disk(path, bytes, direct);
    uni::sim::ManualClock clock;
    return run_uni_on<Config>(disk, clock, sched, w, batch);
  }
  ::close(file_disk::make_file(path, bytes, direct));
  boost::asio::io_context io;
  uni::posix::PosixClock clock(io);
  uni::posix::UringDisk driver(io, sched, 32);
  char why[320];
  uni::text_writer text{why, sizeof why};
  if (!driver.open(path, !direct, text, dsync))
    std::fprintf(stderr, "uni: %.*s\n", static_cast<int>(text.view().size()), text.view().data()), std::exit(1);
  driver.try_page_cache(nowait);
  uni::block::request_queue<uni::posix::UringDisk, 32, uni::posix::UringDisk::segments> disk(driver, sched);
  const figures f = run_uni_on<Config>(disk, clock, sched, w, batch);
  const auto& d = driver.statistics();
  std::fprintf(stderr, "uni: device: %llu reads (%llu held whole by the page cache, no entry; %llu not, %llu of them in part), "
               "%llu entries submitted\n",
               static_cast<unsigned long long>(d.reads), static_cast<unsigned long long>(d.cached_reads),
               static_cast<unsigned long long>(d.uncached_reads), static_cast<unsigned long long>(d.cached_partly),
               static_cast<unsigned long long>(d.submits));
  return f;
}

void check_lmdb(int rc, const char* what) {
  if (rc != 0) std::fprintf(stderr, "lmdb %s: %s\n", what, mdb_strerror(rc)), std::exit(1);
}

figures run_lmdb(const std::string& dir, const workload& w, std::size_t batch) {
  figures f;
  const std::string path = dir + "/lmdb";
  ::mkdir(path.c_str(), 0755);
  ::unlink((path + "/data.mdb").c_str());
  ::unlink((path + "/lock.mdb").c_str());
  MDB_env* env;
  check_lmdb(mdb_env_create(&env), "create");
  check_lmdb(mdb_env_set_mapsize(env, std::size_t{4} << 30), "mapsize");
  check_lmdb(mdb_env_open(env, path.c_str(), 0, 0644), "open");
  MDB_dbi dbi;
  MDB_txn* txn;
  check_lmdb(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  check_lmdb(mdb_dbi_open(txn, nullptr, 0, &dbi), "dbi");
  check_lmdb(mdb_txn_commit(txn), "commit");
  auto t = clock_type::now();
  for (std::size_t i = 0, end; i < w.keys.size();) {
    if (i == w.preload) t = clock_type::now();
    end = batch_end(w, i, batch);
    check_lmdb(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    for (; i < end; ++i) {
      MDB_val k{w.keys[i].size(), const_cast<char*>(w.keys[i].data())};
      MDB_val v{w.value.size(), const_cast<char*>(w.value.data())};
      check_lmdb(mdb_put(txn, dbi, &k, &v, 0), "put");
    }
    check_lmdb(mdb_txn_commit(txn), "commit");
  }
  f.put_s = seconds_since(t);
  check_lmdb(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "begin");
  char out[4096];
  for (int pass = 0; pass < 2; ++pass) {
    t = clock_type::now();
    const cpu_mark cpu = cpu_mark::now();
    for (std::uint32_t r : w.reads) {
      MDB_val k{w.keys[r].size(), const_cast<char*>(w.keys[r].data())}, v;
      if (mdb_get(txn, dbi, &k, &v) == 0) {
        std::memcpy(out, v.mv_data, std::min(v.mv_size, sizeof out));  // copy out, as uni's get does
        if (pass == 0) ++f.found;
      }
    }
    f.gets_done(pass, t, cpu);  // (before teardown: LMDB's map is still mapped)
  }
  mdb_txn_abort(txn);
  struct stat st {};
  ::stat((path + "/data.mdb").c_str(), &st);
  f.cache_bytes = f.memory_bytes = static_cast<std::size_t>(st.st_size);  // the whole map: LMDB reads through the page cache
  mdb_env_close(env);
  return f;
}

void check_sqlite(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    std::fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db)), std::exit(1);
}

figures run_sqlite(const std::string& dir, const workload& w, std::size_t batch) {
  figures f;
  const std::string path = dir + "/sqlite.db";
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  sqlite3* db;
  check_sqlite(sqlite3_open(path.c_str(), &db), db, "open");
  check_sqlite(sqlite3_exec(db,
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                            "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID;",
                            nullptr, nullptr, nullptr),
               db, "schema");
  sqlite3_stmt *put, *get;
  check_sqlite(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv VALUES (?, ?)", -1, &put, nullptr), db, "prepare");
  check_sqlite(sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1, &get, nullptr), db, "prepare");
  auto t = clock_type::now();
  for (std::size_t i = 0, end; i < w.keys.size();) {
    if (i == w.preload) t = clock_type::now();
    end = batch_end(w, i, batch);
    check_sqlite(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (; i < end; ++i) {
      sqlite3_bind_blob(put, 1, w.keys[i].data(), static_cast<int>(w.keys[i].size()), SQLITE_STATIC);
      sqlite3_bind_blob(put, 2, w.value.data(), static_cast<int>(w.value.size()), SQLITE_STATIC);
      check_sqlite(sqlite3_step(put), db, "put");
      sqlite3_reset(put);
    }
    check_sqlite(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  f.put_s = seconds_since(t);
  char out[4096];
  for (int pass = 0; pass < 2; ++pass) {
    t = clock_type::now();
    const cpu_mark cpu = cpu_mark::now();
    for (std::uint32_t r : w.reads) {
      sqlite3_bind_blob(get, 1, w.keys[r].data(), static_cast<int>(w.keys[r].size()), SQLITE_STATIC);
      if (sqlite3_step(get) == SQLITE_ROW) {
        std::memcpy(out, sqlite3_column_blob(get, 0), std::min<std::size_t>(sqlite3_column_bytes(get, 0), sizeof out));
        if (pass == 0) ++f.found;
      }
      sqlite3_reset(get);
    }
    f.gets_done(pass, t, cpu);
  }
  sqlite3_int64 pages = 0;
  sqlite3_stmt* q;
  sqlite3_prepare_v2(db, "PRAGMA cache_size", -1, &q, nullptr);
  if (sqlite3_step(q) == SQLITE_ROW) pages = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  f.cache_bytes = f.memory_bytes = static_cast<std::size_t>(pages < 0 ? -pages * 1024 : pages * 4096);  // negative: KiB
  sqlite3_finalize(put);
  sqlite3_finalize(get);
  sqlite3_close(db);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string engine = bench::option_str(argc, argv, "--engine", "uni");
  const std::string dir = bench::option_str(argc, argv, "--dir", ".");
  const std::size_t keys = bench::option(argc, argv, "--keys", 100000);
  const std::size_t preload = bench::option(argc, argv, "--preload", 0);
  const std::size_t batch = std::max<std::size_t>(1, bench::option(argc, argv, "--batch", 1));
  const std::size_t gets = bench::option(argc, argv, "--gets", 200000);
  const std::size_t value_size = bench::option(argc, argv, "--value", 100);
  std::mt19937_64 rng(bench::option(argc, argv, "--seed", 1));

  workload w;
  w.preload = preload;
  w.keys.reserve(preload + keys);
  for (std::size_t i = 0; i < preload + keys; ++i) {
    char k[17];
    std::snprintf(k, sizeof k, "%016llx", static_cast<unsigned long long>(rng()));
    w.keys.emplace_back(k);
  }
  w.value.assign(value_size, 'v');
  w.reads.reserve(gets);
  for (std::size_t i = 0; i < gets; ++i) w.reads.push_back(static_cast<std::uint32_t>(rng() % w.keys.size()));

  figures f;
  const std::size_t cache_mib = bench::option(argc, argv, "--cache-mib", 1), node_kib = bench::option(argc, argv, "--node-kib", 4);
  if (engine == "uni" && ((cache_mib != 1 && cache_mib != 4) || (node_kib != 1 && node_kib != 4)))
    return std::fprintf(stderr, "%s: --cache-mib is 1 or 4, --node-kib 4 or 1\n", argv[0]), 2;
  if (engine == "uni") {
    using uni::btree::default_config, uni::btree::small_records_config;
    const bool direct = bench::option(argc, argv, "--direct", 0) != 0;
    const bool uring = bench::option_str(argc, argv, "--device", "uring") != "file";
    const bool dsync = bench::option(argc, argv, "--dsync", 0) != 0, nowait = bench::option(argc, argv, "--nowait", 1) != 0;
    const auto run = [&](auto config) { return run_uni<decltype(config)>(dir, w, batch, direct, uring, dsync, nowait); };
    if (node_kib == 1)
      f = cache_mib == 4 ? run(cache_mib_config<small_records_config, 4>{}) : run(small_records_config{});
    else
      f = cache_mib == 4 ? run(cache_mib_config<default_config, 4>{}) : run(default_config{});
  } else if (engine == "lmdb")
    f = run_lmdb(dir, w, batch);
  else if (engine == "sqlite")
    f = run_sqlite(dir, w, batch);
  else
    return std::fprintf(stderr, "usage: %s --engine uni|lmdb|sqlite --dir DIR ...\n", argv[0]), 2;
  if (f.found != gets) return std::fprintf(stderr, "%s: %zu of %zu gets found\n", engine.c_str(), f.found, gets), 1;
  const auto per_get = [gets](double s) { return s * 1e6 / static_cast<double>(gets); };
  std::printf("btree engine=%s keys=%zu preload=%zu batch=%zu value=%zu puts_per_s=%.0f gets=%zu gets_per_s=%.0f get_cpu_us=%.3f "
              "get_sys_us=%.3f warm_gets_per_s=%.0f warm_get_cpu_us=%.3f warm_get_sys_us=%.3f cache_bytes=%zu memory_bytes=%zu "
              "rss_bytes=%lld misses_per_get=%.3f\n",
              engine.c_str(), keys, preload, batch, value_size, static_cast<double>(keys) / f.put_s, gets,
              static_cast<double>(gets) / f.get_s, per_get(f.get_cpu_s), per_get(f.get_sys_s),
              static_cast<double>(gets) / f.warm_get_s, per_get(f.warm_get_cpu_s), per_get(f.warm_get_sys_s), f.cache_bytes,
              f.memory_bytes, static_cast<long long>(f.rss_bytes), f.misses_per_get);
  return 0;
}
