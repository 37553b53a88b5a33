// uni/sim/fault_disk.hpp: a BlockDevice decorator that makes a good disk bad,
// deterministically: from a seed (rates per million requests) or by an explicit
// schedule ("the 3rd write fails", "the 7th write is torn after 2 sectors").
//
//   I/O errors      a chosen read, write or flush fails with an error value
//                   (error::io unless told otherwise) and touches nothing
//   latency         each request first waits a delay, uniform in a range (needs
//                   the scheduler); with several requests in flight they then
//                   complete out of order
//   torn writes     only a prefix of the write's sectors reaches the disk, then
//                   the write fails with error::io
//   lost flushes    the flush says yes and makes nothing durable
//   power cut       cut_power(n): writes 0..n-1 complete, write n reaches the
//                   disk only in part (or not at all), and from then on every
//                   request fails with error::device_gone; unplug() the same, now
//
// Crash testing every prefix of a workload. record() turns on the write log: every
// write that reached the inner disk (its sectors and bytes) and every flush that
// completed (and which writes it made durable), in completion order. After one
// run of the workload a test rebuilds the disk as a power cut would have left it
// after any prefix of that log, and checks what sits on top mounts and is sane:
//
//   sim::RamDisk ram(512, 2048);
//   sim::RamDisk base = ram;                 // the image before the workload
//   sim::FaultDisk disk(ram, sched);
//   disk.record();
//   ... run the workload on `disk` ...
//   for (std::size_t n = 0; n <= disk.log().size(); ++n)
//     for (auto torn : {sim::whole, std::uint64_t{0}, std::uint64_t{1}}) {
//       sim::RamDisk after = disk.log().image_after(base, {.entries = n, .torn_sectors = torn,
//                                                          .unflushed = sim::unflushed::lost});
//       ... mount `after`, check its invariants ...
//     }
//
// torn_sectors applies to the prefix's last entry when it is a write (whole:
// untouched). `unflushed` says what became of the writes in the prefix that no
// completed flush covered: kept (the disk wrote them all), lost (it wrote none),
// or some (each kept or lost by a seeded coin: a write-back cache that reorders).
//
// The log copies the bytes of each write (std::vector): it is a test facility,
// off unless record() is called. Everything else allocates nothing per request.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <uni/block/concepts.hpp>
#include <uni/core/random.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/sim/ram_disk.hpp>

namespace uni::sim {

inline constexpr std::uint64_t whole = std::numeric_limits<std::uint64_t>::max();

enum class block_op : std::uint8_t { read, write, flush };
enum class unflushed : std::uint8_t { kept, lost, some };

// A power cut, as the write log replays it.
struct crash {
  std::size_t entries = 0;          // the first `entries` entries of the log happened
  std::uint64_t torn_sectors = whole;  // of the last, if a write, only this many sectors landed
  unflushed fate = unflushed::kept;    // the writes in the prefix no completed flush covered
  std::uint64_t seed = 1;              // for unflushed::some
};

class write_log {
 public:
  struct entry {
    block_op op = block_op::write;  // write or flush
    std::uint64_t first = 0;        // a write's first sector
    std::vector<std::uint8_t> bytes;  // a write's bytes (whole sectors)
    std::size_t covers = 0;           // a flush: entries [0, covers) are durable once it completed
  };

  std::size_t size() const noexcept { return entries_.size(); }
  std::span<const entry> entries() const noexcept { return entries_; }
  std::size_t write_count() const noexcept {
    std::size_t n = 0;
    for (const entry& e : entries_) n += e.op == block_op::write;
    return n;
  }
  void clear() noexcept { entries_.clear(); }

  // Applies the prefix `c` describes to `disk` (normally a copy of the image
  // the workload started from).
  void replay(RamDisk& disk, const crash& c) const {
    const std::size_t n = c.entries < entries_.size() ? c.entries : entries_.size();
    std::size_t durable = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (entries_[i].op == block_op::flush && entries_[i].covers > durable) durable = entries_[i].covers;
    random_generator coin(c.seed);
    for (std::size_t i = 0; i < n; ++i) {
      const entry& e = entries_[i];
      if (e.op != block_op::write) continue;
      if (i >= durable) {
        if (c.fate == unflushed::lost) continue;
        if (c.fate == unflushed::some && coin.below(2) == 0) continue;
      }
      std::size_t length = e.bytes.size();
      if (i + 1 == n && c.torn_sectors != whole) {
        const std::uint64_t torn = c.torn_sectors * disk.sector_size();
        if (torn < length) length = static_cast<std::size_t>(torn);
      }
      if (length == 0) continue;
      const view v = view::unowned(std::span<const std::uint8_t>(e.bytes.data(), length));
      if (!disk.write_now(e.first, std::span<const view>(&v, 1))) panic("write_log: replay on a smaller disk");
    }
  }
  RamDisk image_after(const RamDisk& base, const crash& c) const {
    RamDisk disk = base;
    disk.set_read_only(false);
    replay(disk, c);
    disk.set_read_only(base.read_only());
    return disk;
  }

 private:
  template <BlockDevice>
  friend class FaultDisk;
  std::vector<entry> entries_;
};

// Faults drawn from the seed, per million requests of each kind.
struct fault_rates {
  std::uint32_t read_error_ppm = 0;
  std::uint32_t write_error_ppm = 0;
  std::uint32_t flush_error_ppm = 0;
  std::uint32_t torn_write_ppm = 0;  // a random prefix (possibly empty) of the write lands
  std::uint32_t lost_flush_ppm = 0;
  duration latency_min{0};  // each request waits uniform in [min, max] first
  duration latency_max{0};
};

template <BlockDevice Inner>
class FaultDisk {
 public:
  static constexpr std::size_t max_scheduled = 64;

  struct stats {
    std::uint64_t reads = 0, writes = 0, flushes = 0;  // requests seen, the index of the next
    std::uint64_t errors = 0, torn = 0, lost_flushes = 0, delayed = 0, gone = 0;
  };

  // `sched` is needed only for latency (a delay with no scheduler panics).
  explicit FaultDisk(Inner& inner, scheduler* sched = nullptr, fault_rates rates = {}, std::uint64_t seed = 1) noexcept
      : inner_(&inner), sched_(sched), rates_(rates), rng_(seed) {}
  FaultDisk(Inner& inner, scheduler& sched, fault_rates rates = {}, std::uint64_t seed = 1) noexcept
      : FaultDisk(inner, &sched, rates, seed) {}

  std::size_t sector_size() const noexcept { return inner_->sector_size(); }
  std::uint64_t sectors() const noexcept { return inner_->sectors(); }
  bool read_only() const noexcept { return inner_->read_only(); }
  std::size_t alignment() const noexcept { return block::alignment_of(*inner_); }
  std::uint64_t max_request_sectors() const noexcept { return block::max_request_sectors_of(*inner_); }
  std::size_t max_segments() const noexcept { return block::max_segments_of(*inner_); }
  Inner& inner() noexcept { return *inner_; }
  const stats& statistics() const noexcept { return stats_; }

  void set_rates(const fault_rates& r) noexcept { rates_ = r; }

  // The schedule: request `index` (0-based, counted per kind since construction)
  // of kind `op` fails with `e`, without touching the disk.
  void fail_at(block_op op, std::uint64_t index, error e = error::io) noexcept { add({op, index, kind::fail, e, 0, {}}); }
  // Write `index` lands only in its first `sectors` sectors, then fails with io.
  void tear(std::uint64_t index, std::uint64_t sectors) noexcept {
    add({block_op::write, index, kind::torn, error::io, sectors, {}});
  }
  // Flush `index` answers success and makes nothing durable.
  void lose_flush(std::uint64_t index) noexcept { add({block_op::flush, index, kind::lose, error::none, 0, {}}); }
  // Request `index` of kind `op` waits `d` before it goes to the disk.
  void delay(block_op op, std::uint64_t index, duration d) noexcept { add({op, index, kind::delay, error::none, 0, d}); }
  // Writes before `write_index` complete; that write lands in its first
  // `torn_sectors` sectors; then the device is gone.
  void cut_power(std::uint64_t write_index, std::uint64_t torn_sectors = 0) noexcept {
    add({block_op::write, write_index, kind::cut, error::device_gone, torn_sectors, {}});
  }
  // The device goes away now: requests in flight and later fail with device_gone.
  void unplug() noexcept { gone_ = true; }
  bool gone() const noexcept { return gone_; }

  // Starts (or restarts) the write log; see the header comment.
  void record() noexcept {
    log_.clear();
    recording_ = true;
  }
  const write_log& log() const noexcept { return log_; }

  task<result<void>> read(std::uint64_t first, std::span<const view> into) {
    const plan p = plan_for(block_op::read, stats_.reads++);
    if (auto r = co_await prelude(p); !r) co_return r;
    co_return co_await inner_->read(first, into);
  }

  task<result<void>> write(std::uint64_t first, std::span<const view> from) {
    const plan p = plan_for(block_op::write, stats_.writes++);
    if (auto r = co_await prelude(p); !r) co_return r;
    if (p.action == kind::torn || p.action == kind::cut) {
      // A bad request is refused as the disk would, before anything lands.
      const block::geometry g{sector_size(), sectors(), read_only()};
      const auto count = block::check_request(g, block::direction::write, first, from);
      if (!count) co_return fail(count.err());
      if (p.action == kind::cut) gone_ = true;
      ++stats_.torn;
      std::uint64_t landed = p.random_prefix ? p.sectors % (*count + 1) : p.sectors;
      co_await write_prefix(first, from, landed < *count ? landed : *count);
      co_return fail(p.action == kind::cut ? error::device_gone : error::io);
    }
    result<void> r = co_await inner_->write(first, from);
    if (r && recording_) log_write(first, from, total_size(from));
    co_return r;
  }

  task<result<void>> flush() {
    const plan p = plan_for(block_op::flush, stats_.flushes++);
    const std::size_t covers = log_.size();  // writes completed before the flush was issued
    if (auto r = co_await prelude(p); !r) co_return r;
    if (p.action == kind::lose) {
      ++stats_.lost_flushes;
      co_return result<void>{};
    }
    result<void> r = co_await inner_->flush();
    if (r && recording_) log_.entries_.push_back({block_op::flush, 0, {}, covers});
    co_return r;
  }

 private:
  enum class kind : std::uint8_t { none, fail, torn, lose, delay, cut };
  struct scheduled {
    block_op op;
    std::uint64_t index;
    kind action;
    error code;
    std::uint64_t sectors;
    duration wait;
  };
  // What happens to one request.
  struct plan {
    kind action = kind::none;
    error code = error::none;
    std::uint64_t sectors = 0;
    duration wait{0};
    bool random_prefix = false;
  };

  void add(const scheduled& s) noexcept {
    if (scheduled_count_ == max_scheduled) panic("FaultDisk: more than ", max_scheduled, " scheduled faults");
    schedule_[scheduled_count_++] = s;
  }

  plan plan_for(block_op op, std::uint64_t index) noexcept {
    plan p;
    if (rates_.latency_max.count() > 0) {
      const auto spread = static_cast<std::uint64_t>((rates_.latency_max - rates_.latency_min).count());
      p.wait = rates_.latency_min + duration(static_cast<duration::rep>(spread ? rng_.below(spread + 1) : 0));
    }
    const std::uint32_t error_ppm = op == block_op::read    ? rates_.read_error_ppm
                                    : op == block_op::write ? rates_.write_error_ppm
                                                            : rates_.flush_error_ppm;
    if (error_ppm && rng_.chance(error_ppm)) {
      p.action = kind::fail;
      p.code = error::io;
    } else if (op == block_op::write && rates_.torn_write_ppm && rng_.chance(rates_.torn_write_ppm)) {
      p.action = kind::torn;
      p.sectors = rng_();
      p.random_prefix = true;  // reduced to [0, the write's sectors] in write_prefix
    } else if (op == block_op::flush && rates_.lost_flush_ppm && rng_.chance(rates_.lost_flush_ppm)) {
      p.action = kind::lose;
    }
    for (std::size_t i = 0; i < scheduled_count_; ++i) {
      const scheduled& s = schedule_[i];
      if (s.op != op || s.index != index) continue;
      if (s.action == kind::delay) {
        p.wait = s.wait;
        continue;
      }
      p.action = s.action;
      p.code = s.code;
      p.sectors = s.sectors;
      p.random_prefix = false;
    }
    return p;
  }

  // The latency, the device's presence, and an injected error, before the request goes on.
  task<result<void>> prelude(const plan& p) {
    if (p.wait.count() > 0) {
      if (!sched_) panic("FaultDisk: a delay needs the scheduler");
      ++stats_.delayed;
      co_await sched_->sleep_for(p.wait);
    }
    if (gone_) {
      ++stats_.gone;
      co_return fail(error::device_gone);
    }
    if (p.action == kind::fail) {
      ++stats_.errors;
      co_return fail(p.code);
    }
    co_return result<void>{};
  }

  // Writes the first `sectors` sectors of `from`, a view at a time, and logs what landed.
  task<void> write_prefix(std::uint64_t first, std::span<const view> from, std::uint64_t sectors) {
    std::uint64_t left = sectors * sector_size(), at = first;
    for (const view& v : from) {
      if (left == 0) break;
      const view part = v.head(static_cast<std::size_t>(left < v.size() ? left : v.size()));
      if (!co_await inner_->write(at, std::span<const view>(&part, 1))) break;
      left -= part.size();
      at += part.size() / sector_size();
    }
    if (recording_ && sectors) log_write(first, from, static_cast<std::size_t>(sectors * sector_size()));
  }

  void log_write(std::uint64_t first, std::span<const view> from, std::size_t length) {
    write_log::entry e{block_op::write, first, std::vector<std::uint8_t>(length), 0};
    gather(from, e.bytes);
    log_.entries_.push_back(std::move(e));
  }

  Inner* inner_;
  scheduler* sched_;
  fault_rates rates_;
  random_generator rng_;
  std::array<scheduled, max_scheduled> schedule_{};
  std::size_t scheduled_count_ = 0;
  bool gone_ = false;
  bool recording_ = false;
  write_log log_;
  stats stats_;
};

static_assert(BlockDevice<FaultDisk<RamDisk>>);

}  // namespace uni::sim
