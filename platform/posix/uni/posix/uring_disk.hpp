// uni/posix/uring_disk.hpp: UringDisk, a BlockDevice over a host file or block
// device, through io_uring (liburing).
//
// The scheduler never blocks on the disk: a request is a submission queue entry
// (a read or write of one run of memory, readv/writev of several, fdatasync)
// and its task waits; the ring signals completions on an eventfd that the
// platform's one wait (the Asio io_context of PosixClock) watches beside the
// TAP device, the sockets and the timers (or the entry is on the run loop's own
// ring: below). No helper threads.
//
// Each entry goes to the kernel as it is made, in an io_uring_submit of its
// own, as fio does. Gathering a scheduler turn's entries into one submit saved
// system calls but cost the device's time: on this VM's virtio disk at depth
// 32, 4 KiB reads submitted ~11 at a time spent 0.43-0.46 ms each in the block
// layer (/sys/block/vda/stat), against 0.30-0.34 ms submitted one by one (fio:
// 0.28-0.31), and completed 0.80x fio's reads a second, against 0.95x.
//
// What each request costs the CPU, and why (bench/block.sh, perf):
//   - the completions are read off the ring right after each submit: a read the
//     kernel finishes as it takes it (the page cache had the bytes) costs that
//     one system call, and its task goes on without waiting at all;
//   - memory registered with register_memory() (the I/O page pool, a store's
//     cache) is pinned and mapped by the kernel once: a request whose bytes are
//     one run inside it goes as READ_FIXED/WRITE_FIXED, and the kernel skips
//     pinning, dirtying and unpinning its pages every time (with O_DIRECT, the
//     largest cost of a 1 MiB read after the device's own);
//   - the file and the ring's own descriptor are registered with the ring: no
//     descriptor lookup per entry or per io_uring_enter;
//   - the ring is set up as fio's io_uring engine sets its own (init_ring): the
//     kernel holds a completion until the loop fetches it, instead of running it
//     as a signal that interrupted the platform's wait (epoll_wait returned
//     EINTR once a depth-1 read, then ran again); reap() explains the eventfd.
//
// Direct I/O (O_DIRECT) by default: the bytes move between the kernel and the
// request's I/O pages with no copy and no page cache, as the paper's block
// devices do (caching is a library's choice above). buffered = true goes through
// the page cache (--disk-cache). open() says clearly what is wrong: a missing
// file, no permission, a file system that refuses O_DIRECT (and that
// --disk-cache would run it), a size that is not a whole number of sectors.
//
// A buffered read first asks the page cache, in the caller's thread: a
// preadv2 with RWF_NOWAIT returns the bytes when the cache holds them all, or
// EAGAIN (or a short read) where it would have to wait for the device; then the
// request (or the rest of it) goes on the ring as any other. It never waits for
// the device: the kernel starts the readahead and returns (after dropping the
// page cache, EAGAIN in 25-90 us where a pread waited 0.1-6 ms), and io_uring's
// own submit makes the same non-blocking attempt before it arms a wait. A hit
// (a B-tree's leaf read, bench/btree.sh) is one system call as before, but
// preadv2 instead of io_uring_enter: 430-450 ns in the kernel against 810-840
// for a READ entry and its eventfd signal (best of 20,000 4 KiB reads, this VM,
// kernel 6.18), and ~200 instructions fewer here (no entry, submit or reap).
// A miss costs one system call more (~1 us, against the device's tens of us or
// more). stats() counts both outcomes. read_at_once() (block::ReadsAtOnce)
// asks the same with no slot and no task, and says false where the cache
// cannot answer whole: a B-tree lookup whose leaf the cache holds then runs
// no coroutine but its own (~770 instructions fewer a get). Direct I/O never
// tries: the device always waits. File systems without non-blocking reads
// (tmpfs, ramfs: EOPNOTSUPP) go on the ring alone.
//
// synced = true opens the file O_DSYNC: each write is durable when it completes
// (the kernel syncs it, a device's cache included, inside the same request), and
// flush() has nothing left to do, so it completes at once without an entry. A
// store that writes a commit and then flushes (uni/btree/store.hpp) then pays
// one request per commit instead of two; on a file system whose buffered writes
// io_uring hands to its worker threads (ext4), that is one hand-off and one wait
// of the loop instead of two. LMDB writes its meta page the same way.
//
// On the TAP target the clock waits on a uni/posix/uring_loop
// instead of Asio, and the disk puts its requests on that ring (use_ring): no
// ring of its own, no eventfd, and a request alone at the device goes with the
// loop's wait, so a read at depth 1 is one io_uring_enter.
//
// Each request in flight has a slot of its own (a fixed table, made at open):
// its iovecs and a share of its views, so a task cancelled while the kernel
// still owns its pages cannot free them under the kernel: the slot keeps them
// until the completion arrives. Nothing is allocated per request.
#pragma once

#include <fcntl.h>
#include <linux/fs.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <coroutine>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <uni/block/concepts.hpp>
#include <uni/block/geometry.hpp>
#include <uni/core/format.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/posix/uring_loop.hpp>

namespace uni::posix {

class UringDisk {
 public:
  // Views one ring entry carries: as many iovecs as the kernel takes (UIO_MAXIOV,
  // 4 MiB of pages); a request with more goes as several entries, in turn.
  // Views that follow each other in memory (pages taken in a row from a fresh
  // pool) share one iovec.
  static constexpr std::size_t segments = UIO_MAXIOV;

  struct stats {
    std::uint64_t reads = 0, writes = 0, flushes = 0;
    std::uint64_t bytes_read = 0, bytes_written = 0;
    std::uint64_t submits = 0;       // io_uring_submit calls (each a system call)
    std::uint64_t gets = 0;          // io_uring_enter calls that only fetched completions (init_ring)
    std::uint64_t iovecs = 0;        // iovecs sent (adjacent views merged)
    std::uint64_t fixed = 0;         // entries sent as READ_FIXED/WRITE_FIXED (registered memory)
    std::uint64_t completions = 0;
    std::uint64_t at_submit = 0;     // of them, found on the ring as the submit returned
    std::uint64_t short_transfers = 0;  // partial reads or writes, finished by a further entry
    std::uint64_t errors = 0;
    std::uint64_t waited = 0;        // requests that found every slot taken
    std::uint64_t synced_flushes = 0;  // flushes answered at once: every write was synced (O_DSYNC)
    std::uint64_t cached_reads = 0;    // buffered reads the page cache held whole: no entry (RWF_NOWAIT)
    std::uint64_t uncached_reads = 0;  // buffered reads it did not (EAGAIN or short): the rest on the ring
    std::uint64_t cached_partly = 0;   // of those, short: some bytes from the cache at once
    std::uint64_t not_at_once = 0;     // read_at_once() asks the cache did not answer whole (a read() follows)
  };

  UringDisk(boost::asio::io_context& io, scheduler& sched, unsigned depth = 32)
      : sched_(&sched), depth_(depth ? depth : 1), slots_free_(sched), notify_(io) {}
  UringDisk(const UringDisk&) = delete;
  UringDisk& operator=(const UringDisk&) = delete;
  ~UringDisk() { close(); }

  // Opens `path` (a regular file or a block device) read-write, or read-only
  // where only reading is allowed; `synced`: every write synced (see the top).
  // False with one line saying why in `why`.
  bool open(std::string_view path, bool buffered, text_writer& why, bool synced = false) {
    const std::string p(path);
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return format_to(why, "cannot open ", path, ": ", std::strerror(errno)), false;
    const bool device = S_ISBLK(st.st_mode);
    if (!device && !S_ISREG(st.st_mode)) return format_to(why, path, " is not a regular file or a block device"), false;
    const int direct = buffered ? 0 : O_DIRECT;
    const int mode = direct | (synced ? O_DSYNC : 0);
    bool read_only = false;
    // O_NOATIME: a read does not make the kernel weigh an access-time update
    // (~20 ns of a 4 KiB page-cache read); only the file's owner may ask it.
    const auto open_as = [&](int flags) {
      const int f = ::open(p.c_str(), flags | O_CLOEXEC | O_NOATIME | mode);
      return f >= 0 || errno != EPERM ? f : ::open(p.c_str(), flags | O_CLOEXEC | mode);
    };
    int fd = open_as(O_RDWR);
    if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
      fd = open_as(O_RDONLY);
      read_only = fd >= 0;
    }
    if (fd < 0) {
      if (errno == EINVAL && direct)
        return format_to(why, path, ": the file system refuses direct I/O (O_DIRECT); run with --disk-cache ",
                         "for buffered I/O through the page cache"),
               false;
      return format_to(why, "cannot open ", path, ": ", std::strerror(errno)), false;
    }
    fd_ = fd;
    std::uint64_t bytes = static_cast<std::uint64_t>(st.st_size);
    std::size_t sector = 512, align = buffered ? 1 : 512;
    if (device) {
      int logical = 0;
      if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0 || ::ioctl(fd, BLKSSZGET, &logical) != 0)
        return format_to(why, path, ": cannot read the device's size: ", std::strerror(errno)), close(), false;
      sector = static_cast<std::size_t>(logical);
      if (!buffered) align = sector;
    } else if (!buffered) {
      struct statx sx {};
      if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
          sx.stx_dio_offset_align != 0) {
        if (sx.stx_dio_offset_align > sector) sector = sx.stx_dio_offset_align;
        align = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : sector;
      }
    }
    if (sector < 512 || sector > page_size)
      return format_to(why, path, ": sectors of ", sector, " bytes (uni takes 512 to 4096)"), close(), false;
    if (bytes == 0) return format_to(why, path, " is empty"), close(), false;
    if (bytes % sector != 0)
      return format_to(why, path, ": its size, ", bytes, " bytes, is not a whole number of ", sector, "-byte sectors"),
             close(), false;
    geometry_ = {sector, bytes / sector, read_only, align, 0};
    make_slots();
    path_ = p;
    buffered_ = buffered;
    try_cache_ = buffered;
    synced_ = synced;
    if (loop_) {  // its entries go on the loop's ring: no ring of its own
      const int i = loop_->register_file(fd_);
      fixed_file_ = i >= 0;
      file_index_ = fixed_file_ ? i : 0;
      return true;
    }

    io_uring_params params{};
    if (int e = init_ring(ring_, depth_, params); e < 0)
      return format_to(why, "io_uring unavailable (", std::strerror(-e), "): the kernel or its sandbox refuses it"),
             close(), false;
    ring_open_ = true;
    // The file and the ring's own descriptor registered: no descriptor lookup
    // per entry and per io_uring_enter. Where the kernel refuses, plain ones.
    fixed_file_ = ::io_uring_register_files(&ring_, &fd_, 1) == 0;
    file_index_ = 0;
    (void)::io_uring_register_ring_fd(&ring_);
    const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0 || ::io_uring_register_eventfd(&ring_, efd) < 0) {
      if (efd >= 0) ::close(efd);
      return format_to(why, "io_uring: cannot register an eventfd"), close(), false;
    }
    notify_.assign(efd);
    arm();
    return true;
  }

  // The requests go on `loop`'s ring (call before open()), the platform's
  // wait on the TAP target, instead of a ring of this disk's own whose
  // eventfd Asio watches.
  void use_ring(uring_loop& loop) noexcept { loop_ = &loop; }

  // Registers `memory` with the kernel (io_uring's fixed buffers, at most
  // `registered_regions` of them, each up to 1 GiB): it is pinned until the disk
  // closes, and requests into it skip pinning their pages one by one. For start
  // of day, after open(). False with the reason in `why` (a kernel without
  // sparse buffer tables, RLIMIT_MEMLOCK for a user without CAP_IPC_LOCK, the
  // table full); requests then go as before, so a caller may ignore it.
  bool register_memory(std::span<std::uint8_t> memory, text_writer& why) {
    if (fd_ < 0) return format_to(why, "register_memory: the disk is not open"), false;
    if (regions_ == registered_regions) return format_to(why, "register_memory: ", registered_regions, " regions already"), false;
    if (loop_) {
      const int b = loop_->register_buffer(memory);
      if (b < 0) return format_to(why, "io_uring cannot register ", memory.size(), " bytes with the loop's ring"), false;
      buffer_index_[regions_] = static_cast<std::uint16_t>(b);
      region_[regions_++] = memory;
      return true;
    }
    if (regions_ == 0) {
      if (const int e = ::io_uring_register_buffers_sparse(&ring_, registered_regions); e < 0)
        return format_to(why, "io_uring cannot register buffers: ", std::strerror(-e)), false;
    }
    iovec iov{memory.data(), memory.size()};
    const __u64 no_tag = 0;
    if (const int e = ::io_uring_register_buffers_update_tag(&ring_, regions_, &iov, &no_tag, 1); e < 0)
      return format_to(why, "io_uring cannot register ", memory.size(), " bytes: ", std::strerror(-e)), false;
    buffer_index_[regions_] = static_cast<std::uint16_t>(regions_);
    region_[regions_++] = memory;
    return true;
  }
  // The pages of an I/O page pool (one run of memory: uni/core/buffer.hpp).
  bool register_memory(page_pool& pool, text_writer& why) {
    const std::span<page_meta> pages = pool.pages();
    if (pages.empty()) return format_to(why, "register_memory: an empty pool"), false;
    return register_memory({pages.front().data, pages.back().data + page_size}, why);
  }
  static constexpr unsigned registered_regions = 4;

  bool is_open() const noexcept { return fd_ >= 0; }
  std::string_view path() const noexcept { return path_; }
  bool buffered() const noexcept { return buffered_; }
  bool synced() const noexcept { return synced_; }
  // Whether buffered reads ask the page cache first (the top; on by default
  // when buffered). Off: every read an entry on the ring, for comparison.
  void try_page_cache(bool on) noexcept { try_cache_ = on && buffered_; }
  bool tries_page_cache() const noexcept { return try_cache_; }

  std::size_t sector_size() const noexcept { return geometry_.sector_size; }
  std::uint64_t sectors() const noexcept { return geometry_.sectors; }
  bool read_only() const noexcept { return geometry_.read_only; }
  std::size_t alignment() const noexcept { return geometry_.alignment; }
  std::size_t max_segments() const noexcept { return segments; }
  const block::geometry& geometry() const noexcept { return geometry_; }
  const stats& statistics() const noexcept { return stats_; }
  std::size_t in_flight() const noexcept { return in_flight_; }

  task<result<void>> read(std::uint64_t first, std::span<const view> into) {
    return transfer(block::direction::read, first, into);
  }
  task<result<void>> write(std::uint64_t first, std::span<const view> from) {
    return transfer(block::direction::write, first, from);
  }
  // block::ReadsAtOnce: a buffered read the page cache holds whole, answered in
  // the caller's turn (the preadv2 above) with no slot, entry or task. False
  // when it does not (or this disk does not ask the cache): the read() that
  // follows asks once more, then goes to the ring (a second EAGAIN costs
  // ~0.7 us, beside the device's tens of us or more).
  result<bool> read_at_once(std::uint64_t first, std::span<const view> into) noexcept {
    if (fd_ < 0) return fail(error::device_gone);
    const auto count = block::check_request(geometry_, block::direction::read, first, into);
    if (!count) return fail(count.err());
    if (!try_cache_ || into.size() > at_once_views) return false;
    std::array<iovec, at_once_views> iov;
    std::size_t want = 0;
    for (std::size_t i = 0; i < into.size(); ++i) {
      iov[i] = {into[i].data(), into[i].size()};
      want += into[i].size();
    }
    if (ask_cache(iov.data(), into.size(), first * geometry_.sector_size) != static_cast<ssize_t>(want)) {
      ++stats_.not_at_once;
      return false;
    }
    ++stats_.reads;
    ++stats_.cached_reads;
    stats_.bytes_read += want;
    return true;
  }
  static constexpr std::size_t at_once_views = 16;  // more: read() them

  task<result<void>> flush() {
    if (fd_ < 0) co_return fail(error::device_gone);
    ++stats_.flushes;
    if (synced_) {  // what completed is durable already
      ++stats_.synced_flushes;
      co_return result<void>{};
    }
    if (!free_) co_await slot_freed();
    lease s(*this, take_slot());
    s->op = IORING_OP_FSYNC;
    const int res = co_await run(*s);
    if (res < 0) co_return fail(error_of(-res));
    co_return result<void>{};
  }

 private:
  // One request at the kernel: what it reads into or writes from, kept alive
  // until its completion, whoever waits for it.
  struct slot : uring_loop::completion {  // a completion on the loop's ring (use_ring)
    UringDisk* disk = nullptr;
    std::array<iovec, segments> iov{};
    std::array<view, segments> held{};
    std::size_t count = 0;       // iovecs in use
    std::size_t held_count = 0;  // views held
    std::uint64_t offset = 0;
    std::uint8_t op = 0;
    std::uint16_t region = 0;  // READ_FIXED/WRITE_FIXED: the registered region iov[0] lies in
    int res = 0;
    bool at_kernel = false;   // submitted, not yet completed
    bool abandoned = false;   // its task ended while at the kernel: the completion frees the slot
    waiter* woken = nullptr;  // the task waiting, if it suspended
    slot* next_free = nullptr;
  };

  task<result<void>> transfer(block::direction d, std::uint64_t first, std::span<const view> pages) {
    if (fd_ < 0) co_return fail(error::device_gone);
    auto count = block::check_request(geometry_, d, first, pages);
    if (!count) co_return fail(count.err());
    const bool reading = d == block::direction::read;
    ++(reading ? stats_.reads : stats_.writes);
    std::uint64_t offset = first * geometry_.sector_size;
    while (!pages.empty()) {  // a chunk of up to `segments` views per ring entry
      const std::span<const view> chunk = pages.first(pages.size() < segments ? pages.size() : segments);
      pages = pages.subspan(chunk.size());
      if (!free_) co_await slot_freed();
      lease s(*this, take_slot());
      s->op = reading ? IORING_OP_READV : IORING_OP_WRITEV;
      s->offset = offset;
      std::size_t want = 0, n = 0;
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        s->held[i] = chunk[i];
        std::uint8_t* const at = chunk[i].data();
        if (n > 0 && static_cast<std::uint8_t*>(s->iov[n - 1].iov_base) + s->iov[n - 1].iov_len == at)
          s->iov[n - 1].iov_len += chunk[i].size();
        else s->iov[n++] = {at, chunk[i].size()};
        want += chunk[i].size();
      }
      s->held_count = chunk.size();
      s->count = n;
      stats_.iovecs += n;
      if (n == 1)  // one run of memory: no iovec for the kernel to copy in
        s->op = registered(s->iov[0], s->region) ? (reading ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED)
                                                 : (reading ? IORING_OP_READ : IORING_OP_WRITE);
      std::size_t done = reading && try_cache_ ? read_cached(*s, want) : 0;
      while (done < want) {
        const int res = co_await run(*s);
        if (res < 0) {
          ++stats_.errors;
          co_return fail(error_of(-res));
        }
        if (res == 0) {  // nothing moved: past the end of a file that shrank
          ++stats_.errors;
          co_return fail(error::device_gone);
        }
        done += static_cast<std::size_t>(res);
        if (done == want) break;
        ++stats_.short_transfers;  // the rest, as a further entry in the same slot
        consume(*s, static_cast<std::size_t>(res));
        s->offset += static_cast<std::uint64_t>(res);
      }
      (reading ? stats_.bytes_read : stats_.bytes_written) += want;
      offset += want;
    }
    co_return result<void>{};
  }

  // A buffered read's bytes from the page cache, if it has them, without
  // waiting (the top): how many it gave; the slot then holds the rest.
  std::size_t read_cached(slot& s, std::size_t want) noexcept {
    const ssize_t n = ask_cache(s.iov.data(), s.count, s.offset);
    if (n == static_cast<ssize_t>(want)) {
      ++stats_.cached_reads;
      return want;
    }
    ++stats_.uncached_reads;
    if (n <= 0) return 0;
    ++stats_.cached_partly;
    consume(s, static_cast<std::size_t>(n));
    s.offset += static_cast<std::uint64_t>(n);
    return static_cast<std::size_t>(n);
  }
  // The preadv2 with RWF_NOWAIT: the bytes the cache gave at once, or -1.
  ssize_t ask_cache(const iovec* iov, std::size_t count, std::uint64_t offset) noexcept {
    const ssize_t n = ::preadv2(fd_, iov, static_cast<int>(count), static_cast<off_t>(offset), RWF_NOWAIT);
    if (n < 0 && errno == EOPNOTSUPP) try_cache_ = false;  // a file (or kernel) without it: the ring alone
    return n;
  }

  // Drops the first `n` bytes of a slot's iovecs (after a short transfer).
  static void consume(slot& s, std::size_t n) noexcept {
    std::size_t i = 0;
    while (i < s.count && n >= s.iov[i].iov_len) n -= s.iov[i++].iov_len;
    if (i < s.count) {
      s.iov[i].iov_base = static_cast<std::uint8_t*>(s.iov[i].iov_base) + n;
      s.iov[i].iov_len -= n;
    }
    for (std::size_t j = i; j < s.count; ++j) s.iov[j - i] = s.iov[j];
    s.count -= i;
  }

  void make_slots() {
    slots_ = std::make_unique<slot[]>(depth_);
    free_ = nullptr;
    for (unsigned i = 0; i < depth_; ++i) {
      slots_[i].disk = this;
      slots_[i].done = [](uring_loop::completion& c, int res) {
        slot& s = static_cast<slot&>(c);
        if (s.disk->loop_) s.disk->complete(s, res);
        else s.at_kernel = false;  // closing (close() retires the slots)
      };
      slots_[i].next_free = free_;
      free_ = &slots_[i];
    }
  }

  // Whether `io` lies inside one registered region, and which.
  bool registered(const iovec& io, std::uint16_t& region) const noexcept {
    const auto at = reinterpret_cast<std::uintptr_t>(io.iov_base);
    for (unsigned i = 0; i < regions_; ++i)
      if (const auto base = reinterpret_cast<std::uintptr_t>(region_[i].data());
          at >= base && at - base <= region_[i].size() && io.iov_len <= region_[i].size() - (at - base)) {
        region = static_cast<std::uint16_t>(i);
        return true;
      }
    return false;
  }

  // Waits until a slot is free (every slot was at the kernel); take_slot() then
  // takes it. A request that finds one free pays no coroutine for it.
  task<void> slot_freed() {
    ++stats_.waited;
    while (!free_) co_await slots_free_.wait();
  }
  slot* take_slot() noexcept {
    slot* s = free_;
    free_ = s->next_free;
    ++in_flight_;
    return s;
  }
  void give_back(slot& s) noexcept {
    for (std::size_t i = 0; i < s.held_count; ++i) s.held[i] = view{};
    s.count = s.held_count = 0;
    s.at_kernel = s.abandoned = false;
    s.woken = nullptr;
    s.next_free = free_;
    free_ = &s;
    --in_flight_;
    slots_free_.notify_one();
  }

  // A slot held by a request's task. If the task ends (or is cancelled) while
  // the kernel still has the request, the completion gives the slot back.
  class lease {
   public:
    lease(UringDisk& d, slot* s) noexcept : d_(d), s_(s) {}
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() {
      if (s_->at_kernel) s_->abandoned = true;
      else d_.give_back(*s_);
    }
    slot& operator*() const noexcept { return *s_; }
    slot* operator->() const noexcept { return s_; }

   private:
    UringDisk& d_;
    slot* s_;
  };

  // Puts the slot's request on the ring and waits for its result (a byte
  // count, or -errno), unless it completed as it was submitted.
  struct run_awaiter {
    UringDisk& disk;
    slot& s;
    waiter w{};
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      if (!disk.queue(s)) {  // no room on the ring (it has a place per slot: never)
        s.res = -EAGAIN;
        return false;
      }
      if (!s.at_kernel) return false;  // done already: go on without a wait
      w.handle = h;
      s.woken = &w;
      return true;
    }
    int await_resume() const noexcept { return s.res; }
    ~run_awaiter() {
      if (s.woken == &w) s.woken = nullptr;
    }
  };
  run_awaiter run(slot& s) noexcept { return {*this, s}; }

  bool queue(slot& s) noexcept {
    io_uring_sqe* sqe = loop_ ? loop_->entry(s) : ::io_uring_get_sqe(&ring_);
    if (!sqe && !loop_) {
      submit_now();
      sqe = ::io_uring_get_sqe(&ring_);
    }
    if (!sqe) return false;
    const int fd = fixed_file_ ? file_index_ : fd_;  // with IOSQE_FIXED_FILE, its index in the registered files
    const std::uint16_t buffer = buffer_index_[s.region];
    void* const at = s.iov[0].iov_base;
    const auto bytes = static_cast<unsigned>(s.iov[0].iov_len);
    const auto iovecs = static_cast<unsigned>(s.count);
    switch (s.op) {
      case IORING_OP_FSYNC: ::io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC); break;
      case IORING_OP_READ: ::io_uring_prep_read(sqe, fd, at, bytes, s.offset); break;
      case IORING_OP_WRITE: ::io_uring_prep_write(sqe, fd, at, bytes, s.offset); break;
      case IORING_OP_READV: ::io_uring_prep_readv(sqe, fd, s.iov.data(), iovecs, s.offset); break;
      case IORING_OP_WRITEV: ::io_uring_prep_writev(sqe, fd, s.iov.data(), iovecs, s.offset); break;
      case IORING_OP_READ_FIXED: ::io_uring_prep_read_fixed(sqe, fd, at, bytes, s.offset, buffer); break;
      default: ::io_uring_prep_write_fixed(sqe, fd, at, bytes, s.offset, buffer); break;
    }
    if (fixed_file_) sqe->flags |= IOSQE_FIXED_FILE;
    if (s.op == IORING_OP_READ_FIXED || s.op == IORING_OP_WRITE_FIXED) ++stats_.fixed;
    s.at_kernel = true;
    ++at_kernel_;
    if (!loop_) {
      ::io_uring_sqe_set_data(sqe, &s);
      submit_now();  // at once, on its own (above)
    } else {  // (entry() set its user_data: the prep calls leave it)
      // Alone at the device, it goes with the loop's wait, in its one
      // io_uring_enter; beside others, at once, on its own (above).
      if (at_kernel_ > 1) {
        ++stats_.submits;
        loop_->submit();
      }
    }
    return true;
  }
  void submit_now() noexcept {
    if (!ring_open_ || ::io_uring_sq_ready(&ring_) == 0) return;
    ++stats_.submits;
    (void)::io_uring_cq_eventfd_toggle(&ring_, false);  // reap() below takes what it posts
    (void)::io_uring_submit(&ring_);
    // What is on the ring now (finished inline, a page-cache hit or an error,
    // or completed meanwhile): those tasks go on this turn, without a wait.
    stats_.at_submit += reap();
  }

  // Completions: the eventfd counts them; each wakes its task (or, for a
  // cancelled one, gives its slot back). The wait is re-armed inside its own
  // handler, before the platform waits again, so a completion that lands after
  // the reap raises an edge the next wait sees. (Re-arming costs Asio 1.74 a
  // system call, an epoll_ctl; a read_some wait would cost a read that finds
  // nothing instead, no cheaper.)
  void arm() {
    notify_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
      if (ec) return;
      [[maybe_unused]] const auto n = ::read(notify_.native_handle(), &signalled_, sizeof signalled_);
      reap();
      arm();
    });
  }
  // The kernel holds a completion until the thread asks for it (init_ring): it
  // signals the eventfd as it holds it, and again as it posts it, which would
  // wake the platform's wait a second time for nothing (measured: 2 epoll_wait,
  // 2 read and 2 epoll_ctl a read at depth 1). So the eventfd is off while this
  // fetches (one io_uring_enter) and takes what is posted; a completion held
  // meanwhile raises the ring's flag, looked at again once the eventfd is on.
  unsigned reap() noexcept {
    unsigned seen = 0;
    (void)::io_uring_cq_eventfd_toggle(&ring_, false);
    while (true) {
      if (has_deferred(ring_)) {
        ++stats_.gets;
        (void)::io_uring_get_events(&ring_);
      }
      seen += take_posted();
      (void)::io_uring_cq_eventfd_toggle(&ring_, true);
      std::atomic_thread_fence(std::memory_order_seq_cst);  // the flag is read after the eventfd is on
      if (!has_deferred(ring_)) return seen;
      (void)::io_uring_cq_eventfd_toggle(&ring_, false);
    }
  }
  unsigned take_posted() noexcept {
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      complete(*static_cast<slot*>(::io_uring_cqe_get_data(cqe)), cqe->res);
    }
    ::io_uring_cq_advance(&ring_, seen);
    return seen;
  }
  // A request's result: its task goes on (or, cancelled, its slot comes back).
  void complete(slot& s, int res) noexcept {
    ++stats_.completions;
    --at_kernel_;
    s.res = res;
    s.at_kernel = false;
    if (s.woken) sched_->wake(*std::exchange(s.woken, nullptr), wake_reason::notified);
    else if (s.abandoned) give_back(s);
  }

  static error error_of(int e) noexcept {
    switch (e) {
      case EINVAL: return error::misaligned;
      case EROFS: case EPERM: case EACCES: case EBADF: return error::read_only;
      case ENOSPC: return error::no_space;
      case ENODEV: case ENXIO: case ESHUTDOWN: return error::device_gone;
      default: return error::io;
    }
  }

  void close() noexcept {
    if (loop_ && fd_ >= 0) {
      // The loop's ring goes on: what it has of this disk ends first (those
      // completions only mark their slots), then the disk's table entries.
      uring_loop& l = *std::exchange(loop_, nullptr);
      if (slots_)
        for (unsigned i = 0; i < depth_; ++i)
          if (slots_[i].in_flight > 0) l.retire(slots_[i]);
      if (fixed_file_) l.unregister_file(file_index_);
      for (unsigned i = 0; i < regions_; ++i) l.unregister_buffer(buffer_index_[i]);
      loop_ = &l;
    }
    if (ring_open_) {
      ::io_uring_queue_exit(&ring_);  // the kernel finishes what it has first
      ring_open_ = false;
    }
    fixed_file_ = false;
    regions_ = 0;
    at_kernel_ = 0;
    if (slots_)
      for (unsigned i = 0; i < depth_; ++i)
        for (view& v : slots_[i].held) v = view{};
    boost::system::error_code ignored;
    notify_.close(ignored);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  scheduler* sched_;
  unsigned depth_;
  wait_queue slots_free_;
  boost::asio::posix::stream_descriptor notify_;
  uring_loop* loop_ = nullptr;  // use_ring()
  io_uring ring_{};
  bool ring_open_ = false;
  bool fixed_file_ = false;  // fd_ is registered with the ring, as file file_index_
  int file_index_ = 0;
  std::array<std::uint16_t, registered_regions> buffer_index_{};  // each region's index in the ring's table
  unsigned at_kernel_ = 0;  // entries submitted, not yet completed
  std::uint64_t signalled_ = 0;  // the eventfd's count, read and dropped
  std::array<std::span<std::uint8_t>, registered_regions> region_{};
  unsigned regions_ = 0;
  int fd_ = -1;
  bool buffered_ = false;
  bool synced_ = false;  // O_DSYNC: flush() has nothing to do
  bool try_cache_ = false;  // buffered reads try preadv2(RWF_NOWAIT) first
  std::string path_;
  block::geometry geometry_{};
  std::unique_ptr<slot[]> slots_;
  slot* free_ = nullptr;
  std::size_t in_flight_ = 0;
  stats stats_;
};

static_assert(BlockDevice<UringDisk>);

}  // namespace uni::posix
