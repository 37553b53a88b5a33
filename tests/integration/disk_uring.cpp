// tests/integration/disk_uring.cpp: UringDisk against a real file or block
// device, judged by a model of its bytes. disk_uring.sh runs it on a file, as
// root on a loop device, buffered and direct.
//
//   uni_disk_uring PATH [--buffered] [--errors] [--registered] [--huge] [--synced] [--ring] [--cold] [--ms N]
//
// 32 tasks, each owning a stripe of the disk (so no two requests in flight
// overlap and the model's order is the disk's), issue random reads and writes
// of scattered views (1 to 24 views, each 1 to 8 sectors, at random sector
// offsets inside I/O pages) through a block::request_queue, which splits those
// longer than 16 views; every read is compared with the model byte for byte.
// At the end the file is read by plain pread and compared whole. --errors puts
// a FaultDisk between the queue and the driver, failing 3% of requests with
// error::io: every failure is io, a failed write written again lands whole,
// and every page comes back. --registered registers the page pool with the
// ring: requests of one run of memory go as READ_FIXED/WRITE_FIXED, the
// scattered ones as readv/writev. --huge puts the pool in huge pages
// (huge_page_pool.hpp) and registers it: the kernel then maps a run of memory
// by huge page, not page by page. --synced opens it O_DSYNC (checked in
// /proc/self/fdinfo): every flush then completes without a ring entry, and the
// model must hold as before. --ring makes the clock wait on a uring_loop
// (a TAP appliance's wait) and puts the disk's requests on it
// (UringDisk::use_ring), instead of Asio's epoll and the disk's own ring and
// eventfd. A buffered disk reads from the page cache at once where it holds
// the bytes (preadv2, RWF_NOWAIT) and on the ring where it does not: --cold
// evicts random runs of the file's pages, and now and then all of them, from
// the page cache while the tasks run (posix_fadvise DONTNEED), so both happen,
// and a read held in part takes its rest from the ring; each outcome is
// counted, and a direct disk must have tried none. Every other read sent
// whole asks read_at_once() first (the queue's and the driver's): a buffered
// disk must answer some so, with the model's bytes, and count each "no" it
// gave (--cold must give some); a direct one none. On a file system that
// refuses RWF_NOWAIT (tmpfs) the first read finds out and the rest go on the
// ring alone. The descriptor is O_NOATIME where the process may ask it (the
// file's owner, or root), and without it otherwise (disk_uring.sh runs one
// as nobody). Exit status 0 when all held.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <uni/block/request_queue.hpp>
#include <uni/core/random.hpp>
#include <uni/core/run.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/huge_page_pool.hpp>
#include <uni/posix/uring_disk.hpp>
#include <uni/posix/uring_loop.hpp>
#include <uni/sim/fault_disk.hpp>

namespace {

using namespace uni;
using uni::posix::PosixClock;
using uni::posix::UringDisk;

constexpr std::size_t tasks = 32;
constexpr std::size_t max_views = 24;
// Requests to judge by: a slow run (ASan on a loaded machine) goes on past --ms
// until this many reads and writes are done, and a --cold run until the outcomes
// it must show have happened (for at most `grace` more), not on a timer's luck.
constexpr std::uint64_t enough = 100;
constexpr auto grace = std::chrono::seconds(20);

struct tally {
  std::uint64_t reads = 0, writes = 0, flushes = 0, injected = 0, mismatches = 0, wrong_errors = 0;
  std::uint64_t at_once = 0, not_at_once = 0;  // reads tried with read_at_once() first, and its answer
};

template <class Queue>
task<void> worker(Queue& q, page_pool& pool, std::vector<std::uint8_t>& model, std::uint64_t first_sector,
                  std::uint64_t stripe, std::uint64_t seed, time_point until, PosixClock& clock, tally& out,
                  const std::function<bool()>& seen) {
  random_generator rng(seed);
  const std::size_t ss = q.sector_size();
  while (clock.now() < until || out.reads + out.writes < enough || (!seen() && clock.now() < until + grace)) {
    const std::uint64_t roll = rng.below(100);
    if (roll < 3) {
      auto r = co_await q.flush();
      ++out.flushes;
      if (!r) (r.err() == error::io ? out.injected : out.wrong_errors)++;
      continue;
    }
    // Scattered views: each a run of whole sectors somewhere inside its own page.
    std::array<view, max_views> views;
    const std::size_t n = 1 + static_cast<std::size_t>(rng.below(max_views));
    std::uint64_t sectors = 0;
    std::size_t used = 0;
    for (; used < n; ++used) {
      auto p = pool.allocate();
      if (!p) break;
      const std::size_t per_page = page_size / ss;
      const std::size_t len = 1 + static_cast<std::size_t>(rng.below(per_page));
      const std::size_t at = static_cast<std::size_t>(rng.below(per_page - len + 1));
      views[used] = *p->slice(at * ss, len * ss);
      sectors += len;
    }
    if (used == 0 || sectors > stripe) continue;
    const std::uint64_t first = first_sector + rng.below(stripe - sectors + 1);
    const std::span<const view> span(views.data(), used);
    std::uint8_t* const base = model.data() + first * ss;
    if (roll < 55) {
      for (std::size_t i = 0; i < used; ++i)
        for (std::size_t b = 0; b < views[i].size(); ++b) views[i][b] = static_cast<std::uint8_t>(rng());
      // A failed write may have landed in part (a split request's other
      // pieces): it is written again until it succeeds, as a store would.
      for (int attempt = 0; attempt < 20; ++attempt) {
        auto r = co_await q.write(first, span);
        ++out.writes;
        if (r) {
          gather(span, {base, sectors * ss});
          break;
        }
        (r.err() == error::io ? out.injected : out.wrong_errors)++;
      }
    } else {
      for (std::size_t i = 0; i < used; ++i) std::memset(views[i].data(), 0xee, views[i].size());
      // Every other read the queue sends whole asks for the bytes at once first,
      // where the queue offers it (not through the FaultDisk).
      bool done = false;
      if constexpr (requires { q.read_at_once(first, span); })
        if (roll % 2 == 0 && used <= 16) {
          auto now = q.read_at_once(first, span);
          if (!now) {
            ++out.wrong_errors;
            continue;
          }
          done = *now;
          ++(done ? out.at_once : out.not_at_once);
        }
      auto r = done ? result<void>{} : co_await q.read(first, span);
      ++out.reads;
      if (!r) {
        (r.err() == error::io ? out.injected : out.wrong_errors)++;
        continue;
      }
      std::size_t at = 0;
      for (std::size_t i = 0; i < used; ++i) {
        if (std::memcmp(views[i].data(), base + at, views[i].size()) != 0) ++out.mismatches;
        at += views[i].size();
      }
    }
  }
}

// Drops runs of the file's pages from the page cache (dirty ones stay until
// written back), every run the whole file, until cancelled.
task<void> evict(int fd, std::uint64_t bytes, scheduler& sched) {
  random_generator rng(99);
  for (unsigned round = 1;; ++round) {
    const std::uint64_t pages = bytes / page_size;
    const std::uint64_t at = rng.below(pages), run = 1 + rng.below(32);
    if (round % 16 == 0) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    else (void)::posix_fadvise(fd, static_cast<off_t>(at * page_size), static_cast<off_t>(run * page_size), POSIX_FADV_DONTNEED);
    co_await sched.sleep_for(std::chrono::microseconds(500));
  }
}

template <class Device>
task<int> exercise(Device& device, scheduler& sched, PosixClock& clock, page_pool& pool,
                   std::vector<std::uint8_t>& model, int ms, int evict_fd, tally& out,
                   const std::function<bool()>& seen) {
  block::request_queue<Device, 32, 16> q(device, sched);
  const std::uint64_t stripe = device.sectors() / tasks;
  const time_point until = clock.now() + std::chrono::milliseconds(ms);
  std::array<join_handle<void>, tasks> all;
  for (std::size_t t = 0; t < tasks; ++t)
    all[t] = spawn(sched, worker(q, pool, model, t * stripe, stripe, 1000 + t, until, clock, out, seen));
  auto watchdog = [&]() -> task<void> {
    co_await sched.sleep_for(std::chrono::milliseconds(ms + 3000) + grace);
    std::size_t done = 0;
    for (auto& h : all) done += h.done();
    std::printf("STUCK: %zu of %zu tasks done, queue in flight %zu\n", done, tasks, q.in_flight());
    std::fflush(stdout);
  };
  auto dog = spawn(sched, watchdog());
  join_handle<void> evicting;
  if (evict_fd >= 0) evicting = spawn(sched, evict(evict_fd, model.size(), sched));
  for (auto& h : all) (void)co_await h.join();
  dog.cancel();
  if (evict_fd >= 0) evicting.cancel();
  auto r = co_await q.flush();
  const auto& s = q.statistics();
  std::printf("queue: %llu pieces, %llu split, %llu waited, high water %zu\n",
              static_cast<unsigned long long>(s.pieces), static_cast<unsigned long long>(s.split),
              static_cast<unsigned long long>(s.waited), s.high_water);
  co_return r ? 0 : (r.err() == error::io ? 0 : 1);
}

}  // namespace

// The open-file flags (octal in /proc/self/fdinfo) of this process's descriptors
// of `path`, or-ed together.
int flags_of_open(const std::string& path) {
  char want[PATH_MAX];
  if (!::realpath(path.c_str(), want)) return 0;
  int all = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    char link[PATH_MAX];
    const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof link - 1);
    if (n <= 0 || std::string_view(link, static_cast<std::size_t>(n)) != want) continue;
    std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
    for (std::string key; info >> key;)
      if (key == "flags:") {
        std::string octal;
        info >> octal;
        all |= static_cast<int>(std::strtol(octal.c_str(), nullptr, 8));
      }
  }
  return all;
}

int main(int argc, char** argv) {
  using namespace uni;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH [--buffered] [--errors] [--registered] [--huge] [--synced] [--ring] [--cold] [--ms N]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  bool buffered = false, errors = false, registered = false, huge = false, synced = false, ring = false, cold = false;
  int ms = 1500;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--buffered") buffered = true;
    else if (a == "--errors") errors = true;
    else if (a == "--registered") registered = true;
    else if (a == "--synced") synced = true;
    else if (a == "--huge") huge = registered = true;
    else if (a == "--ring") ring = true;
    else if (a == "--cold") cold = true;
    else if (a == "--ms" && i + 1 < argc) ms = std::atoi(argv[++i]);
  }
  boost::asio::io_context io;
  scheduler sched;
  PosixClock clock(io);
  uni::posix::uring_loop loop;
  if (ring) {
    char buf[160];
    text_writer why{buf, sizeof buf};
    if (!loop.open(why) || !clock.use_ring(loop)) {
      std::fprintf(stderr, "--ring: no run loop ring: %.*s\n", static_cast<int>(why.view().size()), why.view().data());
      return 1;
    }
  }
  std::unique_ptr<static_page_pool<1024>> small;  // each deleted as its own type
  std::unique_ptr<uni::posix::huge_page_pool<1024>> huge_pool;
  if (huge) huge_pool = std::make_unique<uni::posix::huge_page_pool<1024>>();
  else small = std::make_unique<static_page_pool<1024>>();
  page_pool* const pool = small ? static_cast<page_pool*>(small.get()) : huge_pool.get();
  if (huge && reinterpret_cast<std::uintptr_t>(pool->pages().front().data) % (2u << 20) != 0) {
    std::fprintf(stderr, "huge_page_pool: pages not on a 2 MiB boundary\n");
    return 1;
  }
  tally out;
  std::vector<std::uint8_t> model;
  int status = 0;
  {
    UringDisk disk(io, sched, 32);
    if (ring) disk.use_ring(loop);
    char buf[320];
    text_writer why{buf, sizeof buf};
    if (!disk.open(path, buffered, why, synced)) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(why.view().size()), why.view().data());
      return 1;
    }
    if (registered && !disk.register_memory(*pool, why)) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(why.view().size()), why.view().data());
      return 1;
    }
    model.resize(static_cast<std::size_t>(disk.sectors() * disk.sector_size()));
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0 || ::pread(fd, model.data(), model.size(), 0) != static_cast<ssize_t>(model.size())) return 1;
    ::close(fd);
    std::printf("%s: %llu sectors of %zu bytes, %s%s, completions through %s\n", path.c_str(),
                static_cast<unsigned long long>(disk.sectors()), disk.sector_size(), buffered ? "buffered" : "direct",
                synced ? ", every write synced (O_DSYNC)" : "",
                ring ? "the run loop's ring" : "its own ring and an eventfd Asio watches");
    if (((flags_of_open(path) & O_DSYNC) != 0) != synced) {
      std::fprintf(stderr, "the disk's descriptor is%s O_DSYNC\n", synced ? " not" : "");
      return 1;
    }
    // O_NOATIME where the kernel allows it (the file's owner, or root), else opened without.
    struct stat st {};
    const bool may_noatime = ::stat(path.c_str(), &st) == 0 && (st.st_uid == ::geteuid() || ::geteuid() == 0);
    if (((flags_of_open(path) & O_NOATIME) != 0) != may_noatime) {
      std::fprintf(stderr, "the disk's descriptor is%s O_NOATIME\n", may_noatime ? " not" : "");
      return 1;
    }
    const int evict_fd = cold ? ::open(path.c_str(), O_RDONLY) : -1;
    // What a --cold run must show (checked below): reads held in part and not at
    // all, and a read_at_once() refused; nothing to wait for where RWF_NOWAIT is refused.
    const std::function<bool()> seen = [&] {
      const auto& d = disk.statistics();
      return !cold || !disk.tries_page_cache() ||
             (d.cached_partly != 0 && d.uncached_reads != d.cached_partly && (errors || out.not_at_once != 0));
    };
    if (errors) {
      sim::FaultDisk<UringDisk> faulty(
          disk, sched, {.read_error_ppm = 30'000, .write_error_ppm = 30'000, .flush_error_ppm = 30'000}, 7);
      auto r = run(sched, clock, exercise(faulty, sched, clock, *pool, model, ms, evict_fd, out, seen));
      status = r ? *r : 1;
    } else {
      auto r = run(sched, clock, exercise(disk, sched, clock, *pool, model, ms, evict_fd, out, seen));
      status = r ? *r : 1;
    }
    if (evict_fd >= 0) ::close(evict_fd);
    const auto& d = disk.statistics();
    std::printf("driver: %llu reads, %llu writes, %llu flushes in %llu submits (%llu entries fixed, %llu completions "
                "found at submit), %llu short, %llu errors\n",
                static_cast<unsigned long long>(d.reads), static_cast<unsigned long long>(d.writes),
                static_cast<unsigned long long>(d.flushes), static_cast<unsigned long long>(d.submits),
                static_cast<unsigned long long>(d.fixed), static_cast<unsigned long long>(d.at_submit),
                static_cast<unsigned long long>(d.short_transfers), static_cast<unsigned long long>(d.errors));
    if (d.synced_flushes != (synced ? d.flushes : 0) || d.flushes == 0) {
      std::fprintf(stderr, "%llu of %llu flushes answered without an entry, for %s\n",
                   static_cast<unsigned long long>(d.synced_flushes), static_cast<unsigned long long>(d.flushes),
                   synced ? "a synced disk: want all" : "a disk not synced: want none");
      status = 1;
    }
    std::printf("page cache first: %llu reads held whole (no entry), %llu not (%llu of them in part), the rest on the ring\n",
                static_cast<unsigned long long>(d.cached_reads), static_cast<unsigned long long>(d.uncached_reads),
                static_cast<unsigned long long>(d.cached_partly));
    std::printf("read at once: %llu reads answered, %llu not (then read() on the ring); the driver's count %llu\n",
                static_cast<unsigned long long>(out.at_once), static_cast<unsigned long long>(out.not_at_once),
                static_cast<unsigned long long>(d.not_at_once));
    const bool tried = d.cached_reads + d.uncached_reads + d.not_at_once != 0;
    if (buffered && !disk.tries_page_cache()) {  // refused (tmpfs, ramfs): once, then the ring alone
      std::printf("the file system refuses RWF_NOWAIT: every read on the ring after the first\n");
      if (d.cached_reads != 0 || d.uncached_reads + d.not_at_once != 1 || out.at_once != 0) status = 1;
    } else if (tried != buffered || (buffered && d.cached_reads + d.uncached_reads != d.reads) ||
        (buffered && d.cached_reads == 0) || (cold && d.cached_partly == 0) ||
        (cold && d.uncached_reads == d.cached_partly)) {
      std::fprintf(stderr, "want %s\n",
                   !buffered ? "no page-cache try on a direct disk"
                   : cold    ? "every read tried, some held whole, some in part, some not at all"
                             : "every read tried, some held whole");
      status = 1;
    } else if (errors ? out.at_once + out.not_at_once != 0  // the FaultDisk offers no read_at_once
                      : (buffered && out.at_once == 0) || (!buffered && out.at_once != 0) ||
                            (cold && out.not_at_once == 0) || (buffered && out.not_at_once != d.not_at_once)) {
      std::fprintf(stderr, "want %s\n",
                   errors      ? "no read at once through the fault disk"
                   : !buffered ? "no read answered at once by a direct disk"
                   : cold      ? "reads answered at once and not, each refusal counted by the driver"
                               : "reads answered at once");
      status = 1;
    }
  }
  std::printf("requests: %llu reads, %llu writes, %llu flushes; %llu failed with io (injected), %llu other errors, "
              "%llu reads differing from the model\n",
              static_cast<unsigned long long>(out.reads), static_cast<unsigned long long>(out.writes),
              static_cast<unsigned long long>(out.flushes), static_cast<unsigned long long>(out.injected),
              static_cast<unsigned long long>(out.wrong_errors), static_cast<unsigned long long>(out.mismatches));
  std::vector<std::uint8_t> file(model.size());
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::pread(fd, file.data(), file.size(), 0) != static_cast<ssize_t>(file.size())) return 1;
  ::close(fd);
  const bool same = file == model;
  std::printf("the file %s the model, byte for byte; pages in use at the end: %zu\n", same ? "equals" : "DIFFERS from",
              pool->statistics().in_use);
  if (!same || out.mismatches || out.wrong_errors || pool->statistics().in_use != 0) status = 1;
  if (errors && out.injected == 0) status = 1;   // the faults must have happened
  if (!errors && out.injected != 0) status = 1;  // and none without them
  if (out.reads + out.writes < enough) status = 1;  // too little done to judge
  return status;
}
