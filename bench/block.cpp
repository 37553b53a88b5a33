// bench/block.cpp: uni's side of bench/block.sh (the paper's Figure 9): random
// reads of `--bs` bytes over a file (or block device), `--qd` at once, for
// `--seconds`, through UringDisk behind a block::request_queue, into I/O pages
// from the pool (scatter-gather: a 4 MiB read is 1024 page views). The pool is
// in huge pages (huge_page_pool.hpp: a read is one DMA segment, so the whole
// queue depth fits a virtio disk's ring); --small-pages puts it in 4 KiB pages.
// Prints one line: MiB/s, reads/s, CPU microseconds (user + system) per read,
// and per read the iovecs, ring entries (SQEs) and io_uring_submit calls the
// disk made, and the io_uring_enter calls in all (on the loop's ring, a TAP
// appliance's wait, its submits and waits too; with
// UNI_URING=0, Asio's path, its epoll_wait calls are not counted).
//
//   bench_block FILE --bs BYTES --qd N --seconds S [--buffered] [--unregistered] [--small-pages]
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include <uni/block/request_queue.hpp>
#include <uni/core/random.hpp>
#include <uni/core/run.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/huge_page_pool.hpp>
#include <uni/posix/uring_disk.hpp>

namespace {

using namespace uni;
using uni::posix::PosixClock;
using uni::posix::UringDisk;

constexpr std::size_t max_qd = 32;
constexpr std::size_t max_bs = 4 << 20;
constexpr std::size_t pool_pages = max_qd * max_bs / page_size;
using queue = block::request_queue<UringDisk, max_qd * 4, UringDisk::segments>;

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

task<int> reader(queue& q, page_pool& pool, std::size_t bs, std::uint64_t seed, time_point until, PosixClock& clock,
                 std::uint64_t& reads) {
  std::vector<view> pages;  // made once, before the clock starts: the loop allocates nothing
  for (std::size_t left = bs; left > 0;) {
    auto p = pool.allocate();
    if (!p) co_return 1;
    p->truncate(left < page_size ? left : page_size);
    left -= p->size();
    pages.push_back(std::move(*p));
  }
  random_generator rng(seed);
  const std::uint64_t blocks = q.sectors() * q.sector_size() / bs;
  const std::uint64_t per_block = bs / q.sector_size();
  while (clock.now() < until) {
    auto r = co_await q.read(rng.below(blocks) * per_block, pages);
    if (!r) {
      std::fprintf(stderr, "read: %s\n", to_string(r.err()).data());
      co_return 1;
    }
    ++reads;
  }
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: %s FILE --bs B --qd N --seconds S [--buffered] [--unregistered] [--small-pages]\n", argv[0]), 2;
  std::size_t bs = 4096, qd = 1;
  double seconds = 2;
  bool buffered = false, unregistered = false, small_pages = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--buffered") buffered = true;
    else if (a == "--unregistered") unregistered = true;
    else if (a == "--small-pages") small_pages = true;
    else if (i + 1 < argc && a == "--bs") bs = std::strtoull(argv[++i], nullptr, 10);
    else if (i + 1 < argc && a == "--qd") qd = std::strtoull(argv[++i], nullptr, 10);
    else if (i + 1 < argc && a == "--seconds") seconds = std::atof(argv[++i]);
  }
  if (bs == 0 || bs > max_bs || qd == 0 || qd > max_qd) return std::fprintf(stderr, "bs <= 4 MiB, qd 1..32\n"), 2;
  boost::asio::io_context io;
  uni::posix::uring_loop ring;  // the wait, as a TAP appliance's (UNI_URING=0: Asio's epoll)
  scheduler sched;
  PosixClock clock(io);
  std::unique_ptr<static_page_pool<pool_pages>> small;  // each deleted as its own type
  std::unique_ptr<uni::posix::huge_page_pool<pool_pages>> huge;
  if (small_pages) small = std::make_unique<static_page_pool<pool_pages>>();
  else huge = std::make_unique<uni::posix::huge_page_pool<pool_pages>>();
  page_pool* const pool = small ? static_cast<page_pool*>(small.get()) : huge.get();
  UringDisk disk(io, sched, static_cast<unsigned>(max_qd * 4));
  char buf[320];
  text_writer why{buf, sizeof buf};
  char ring_buf[120];
  text_writer no_ring{ring_buf, sizeof ring_buf};
  if (uni::posix::uring_loop::wanted() && ring.open(no_ring) && clock.use_ring(ring)) disk.use_ring(ring);
  if (!disk.open(argv[1], buffered, why))
    return std::fprintf(stderr, "%.*s\n", static_cast<int>(why.size()), why.view().data()), 1;
  if (bs % disk.sector_size() != 0) return std::fprintf(stderr, "bs is not a multiple of the sector size\n"), 2;
  // The pool is registered with the ring, as an appliance's is: reads into it
  // skip pinning their pages one by one (--unregistered: as before, to compare).
  if (!unregistered && !disk.register_memory(*pool, why))
    std::fprintf(stderr, "%.*s (reads go unregistered)\n", static_cast<int>(why.size()), why.view().data());
  queue q(disk, sched);
  std::uint64_t reads = 0;
  double cpu0 = 0;
  time_point t0{}, t1{};
  auto main_task = [&]() -> task<int> {
    t0 = clock.now();
    cpu0 = cpu_seconds();
    const time_point until = t0 + std::chrono::duration_cast<duration>(std::chrono::duration<double>(seconds));
    std::vector<join_handle<int>> all;
    for (std::size_t i = 0; i < qd; ++i) all.push_back(spawn(sched, reader(q, *pool, bs, 1 + i, until, clock, reads)));
    int status = 0;
    for (auto& h : all) {
      auto r = co_await h.join();
      if (!r || *r) status = 1;
    }
    t1 = clock.now();
    co_return status;
  };
  auto r = run(sched, clock, main_task());
  const double cpu = cpu_seconds() - cpu0;
  const double wall = std::chrono::duration<double>(t1 - t0).count();
  const auto per_read = [&](std::uint64_t n) { return reads ? static_cast<double>(n) / static_cast<double>(reads) : 0.0; };
  const auto& d = disk.statistics();
  // io_uring_enter calls a read took: the disk's own submits and fetches, or,
  // when it runs on the loop's ring (unless UNI_URING=0), the loop's (its submits are
  // the loop's: counted once).
  const std::uint64_t enters = ring.is_open() ? ring.statistics().enters : d.submits + d.gets;
  std::printf("mib_s %.2f iops %.1f cpu_us_per_read %.2f reads %llu split %llu iovecs_per_read %.1f sqes_per_read %.2f "
              "submits_per_read %.2f fixed_per_read %.2f enters_per_read %.2f\n",
              static_cast<double>(reads) * static_cast<double>(bs) / 1048576.0 / wall, static_cast<double>(reads) / wall,
              reads ? cpu * 1e6 / static_cast<double>(reads) : 0.0, static_cast<unsigned long long>(reads),
              static_cast<unsigned long long>(q.statistics().split), per_read(d.iovecs), per_read(d.completions),
              per_read(d.submits), per_read(d.fixed), per_read(enters));
  return r && *r == 0 ? 0 : 1;
}
