// uni/posix/disk_appliance.hpp: the block devices of a POSIX appliance (TAP and
// socket targets alike). One --disk PATH per device the Config declares, in
// order; --disk-cache for buffered I/O instead of O_DIRECT. Each disk is a
// UringDisk behind a block::request_queue of Config::block_queue_depth, handed
// to `serve(stack, disks, options)` (uni/devices.hpp). An appliance without
// disks has none of this: no flags, no ring, `serve(stack, options)`.
//
// At start of day each disk registers the appliance's I/O page pool with its
// ring (the pages its stores read into and write from: requests into them skip
// pinning page by page), and submits what a scheduler turn queued just before
// the clock's wait. Where the kernel or RLIMIT_MEMLOCK refuses the pool, the
// disk works as before, and a debug line says why. When the clock waits on an
// io_uring (the TAP target), the disks' completions reach it there.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include <uni/block/request_queue.hpp>
#include <uni/core/log.hpp>
#include <uni/devices.hpp>
#include <uni/options.hpp>
#include <uni/posix/appliance_options.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/uring_disk.hpp>

namespace uni::posix {

template <class Config>
class posix_disks {
 public:
  static constexpr std::size_t count = Config::block_devices;
  using queue = block::request_queue<UringDisk, Config::block_queue_depth, UringDisk::segments>;

  posix_disks(PosixClock& clock, scheduler& sched, page_pool& pool) noexcept
      : clock_(clock), sched_(sched), pool_(pool) {}

  // The --disk flags: as many as the appliance declares. Returns the exit
  // status to end with (2: the flags, 1: a disk cannot be used), or 0.
  int open(std::string_view name, const appliance_options& o) {
    if constexpr (count == 0) {
      return 0;
    } else {
      if (o.count("disk") != count)
        return refuse(name, "this appliance has ", count, " block device", count == 1 ? "" : "s", ": give --disk PATH for ",
                      count == 1 ? "it" : "each", " (got ", o.count("disk"), ")");
      const bool buffered = o.flag("disk-cache");
      std::array<queue*, count> each{};
      for (std::size_t i = 0; i < count; ++i) {
        UringDisk& d = drivers_[i].emplace(clock_.context(), sched_, static_cast<unsigned>(Config::block_queue_depth));
        if (clock_.ring()) d.use_ring(*clock_.ring());
        char buf[320];
        text_writer why{buf, sizeof buf};
        if (!d.open(o.text("disk", i), buffered, why)) {
          log_error(name, ": --disk: ", why.view());
          return 1;
        }
        text_writer refused{buf, sizeof buf};
        if (!d.register_memory(pool_, refused))
          log_debug(name, ": disk ", i, ": I/O pages not registered with io_uring: ", refused.view());
        log_info(name, ": disk ", i, ": ", d.path(), ", ", d.sectors(), " sectors of ", d.sector_size(), " bytes",
                 d.read_only() ? ", read-only" : "", buffered ? ", buffered (page cache)" : ", direct I/O");
        each[i] = &queues_[i].emplace(d, sched_);
      }
      all_.emplace(each);
      return 0;
    }
  }

  uni::disks<queue, count>& all() noexcept { return *all_; }

  void report() const {
    for (std::size_t i = 0; i < count; ++i) {
      if (!drivers_[i] || !queues_[i]) continue;
      const auto& d = drivers_[i]->statistics();
      const auto& q = queues_[i]->statistics();
      log_info("disk ", i, ": reads ", d.reads, " (", d.bytes_read, " bytes; ", d.cached_reads,
               " whole from the page cache at once, ", d.uncached_reads, " not) writes ", d.writes, " (", d.bytes_written,
               " bytes) flushes ", d.flushes, " in ", d.submits, " submits, errors ", d.errors, "; queue: pieces ",
               q.pieces, " split ", q.split, " waited ", q.waited, " refused ", q.refused, " high water ", q.high_water);
    }
  }

 private:
  PosixClock& clock_;
  scheduler& sched_;
  page_pool& pool_;
  std::array<std::optional<UringDisk>, count> drivers_;
  std::array<std::optional<queue>, count> queues_;
  std::optional<uni::disks<queue, count>> all_;
};

}  // namespace uni::posix
