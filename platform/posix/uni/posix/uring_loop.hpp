// uni/posix/uring_loop.hpp: uring_loop, one io_uring as the platform's one wait
// on the POSIX TAP target (PosixClock::use_ring).
//
// Each turn of the run loop costs one io_uring_enter: it submits what the turn
// queued (TAP writes, re-posted TAP reads) and waits, until the next timer
// deadline at most, for the first completion (a TAP frame, a disk's ring, a
// signal). Asio's epoll, its eventfd and its re-arming epoll_ctl are out of
// the path. Devices put entries on the ring with entry(c): the entry's
// user_data is `c`, whose `done` runs when the completion is reaped, from the
// clock's wait (never inside a device's call).
//
// A disk (UringDisk::use_ring) puts its requests on this ring too, so a read
// at depth 1 is one io_uring_enter (submit and wait), not one for the disk's
// own ring and one for the loop's poll of it. Its file and memory are named in
// the ring's fixed tables (register_file, register_buffer), shared by the
// devices on the ring.
//
// Signals stay Asio's (signal_set: SIGINT, SIGTERM, SIGUSR1): forward_signals()
// blocks them and watches a signalfd from the ring, so a wait ends when one is
// pending even while the loop is busy; then they are let in (Asio's handlers
// run, writing Asio's pipe), blocked again, and `after` (io_context::poll) runs
// what Asio made ready. Blocked signals are inherited by children: a TAP
// appliance spawns none.
//
// It is the TAP target's wait (wanted()). A disk read at depth 1 is one
// io_uring_enter against five calls on Asio's epoll (which re-arms the disk's
// eventfd with epoll_ctl at every wake), and only so does it keep up with fio.
// On TAP traffic alone it costs what Asio's epoll does: the TAP driver keeps one
// read posted and drains a burst with plain reads (tap_netif.hpp). Three
// interleaved pairs on 2026-12-05: DNS 4.40 against 4.42 us of CPU an answer;
// HTTP requests per CPU-second 50k / 191-204k / 217-221k against 49-50k /
// 170-199k / 174-205k at 1 / 10 / 100 connections; memcache 50 connections
// 3.2-3.5 against 3.6-4.3 us an operation. (With a read posted per frame, as
// once, it cost more: DNS 4.7 against 4.0.) UNI_URING=0 asks for Asio's epoll.
// An old kernel, seccomp or RLIMIT_MEMLOCK can still refuse the ring: the
// appliance then runs on Asio (tap_appliance.hpp says which in a debug line).
#pragma once

#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/time.hpp>

namespace uni::posix {

// io_uring_queue_init_params with the flags for a ring one thread owns, as
// fio's io_uring engine sets them: a completion's work (posting its entry)
// waits until the thread asks for completions (DEFER_TASKRUN, which needs
// SINGLE_ISSUER) instead of interrupting it as a signal does, and the ring's
// flags say when there is such work (TASKRUN_FLAG: liburing's peek and submit
// then enter the kernel to run it). A kernel older than 6.1 gets `p` as it was.
inline int init_ring(io_uring& ring, unsigned entries, io_uring_params& p) noexcept {
  io_uring_params owned = p;
  owned.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_DEFER_TASKRUN;
  if (::io_uring_queue_init_params(entries, &ring, &owned) == 0) {
    p = owned;
    return 0;
  }
  return ::io_uring_queue_init_params(entries, &ring, &p);
}

// Whether `ring` has completions the kernel holds until the thread asks for
// them (init_ring); io_uring_get_events posts them.
inline bool has_deferred(const io_uring& ring) noexcept {
  return (IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

class uring_loop {
 public:
  static constexpr unsigned entries = 256;  // submission queue; the completion queue is twice that

  // What a ring entry's user_data points to: `done(c, res)` runs for its completion.
  struct completion {
    void (*done)(completion&, int res) = nullptr;
    unsigned in_flight = 0;  // entries of it at the kernel (the loop counts them)
  };

  struct stats {
    std::uint64_t enters = 0;       // io_uring_enter calls (submits and waits)
    std::uint64_t completions = 0;
    std::uint64_t signals = 0;      // wake-ups by a forwarded signal
    std::uint64_t full = 0;         // entries that found the submission queue full (it was submitted first)
  };

  uring_loop() = default;
  uring_loop(const uring_loop&) = delete;
  uring_loop& operator=(const uring_loop&) = delete;
  ~uring_loop() { close(); }

  // Whether the environment leaves the ring on (anything but UNI_URING=0).
  static bool wanted() noexcept {
    const char* v = std::getenv("UNI_URING");
    return !v || std::string_view(v) != "0";
  }

  // Sets the ring up; false with the reason in `why`.
  bool open(text_writer& why) {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * entries;
    if (const int e = init_ring(ring_, entries, p); e < 0)
      return format_to(why, "io_uring_setup: ", std::strerror(-e)), false;
    if (!(p.features & IORING_FEAT_EXT_ARG)) {  // a wait with a timeout in one call (Linux 5.11)
      ::io_uring_queue_exit(&ring_);
      return format_to(why, "the kernel's io_uring cannot wait with a timeout (Linux 5.11)"), false;
    }
    (void)::io_uring_register_ring_fd(&ring_);
    open_ = true;
    return true;
  }
  bool is_open() const noexcept { return open_; }
  const stats& statistics() const noexcept { return stats_; }

  // Fixed files and buffers: `fd` or `memory` registered with the ring, named
  // in an entry by the index returned (IOSQE_FIXED_FILE, READ_FIXED/WRITE_FIXED);
  // -1 when the kernel refuses or the table is full. Each table is made on first
  // use. Unregister only what no entry at the kernel names.
  static constexpr unsigned fixed_files = 8, fixed_buffers = 16;
  int register_file(int fd) noexcept {
    if (!files_made_) files_made_ = ::io_uring_register_files_sparse(&ring_, fixed_files) == 0;
    const int i = free_index(files_used_, fixed_files);
    if (!files_made_ || i < 0 || ::io_uring_register_files_update(&ring_, static_cast<unsigned>(i), &fd, 1) != 1)
      return -1;
    files_used_ |= 1u << i;
    return i;
  }
  void unregister_file(int index) noexcept {
    int none = -1;
    (void)::io_uring_register_files_update(&ring_, static_cast<unsigned>(index), &none, 1);
    files_used_ &= ~(1u << index);
  }
  int register_buffer(std::span<std::uint8_t> memory) noexcept {
    if (!buffers_made_) buffers_made_ = ::io_uring_register_buffers_sparse(&ring_, fixed_buffers) == 0;
    const int i = free_index(buffers_used_, fixed_buffers);
    iovec iov{memory.data(), memory.size()};
    const __u64 no_tag = 0;
    if (!buffers_made_ || i < 0 ||
        ::io_uring_register_buffers_update_tag(&ring_, static_cast<unsigned>(i), &iov, &no_tag, 1) != 1)
      return -1;
    buffers_used_ |= 1u << i;
    return i;
  }
  void unregister_buffer(int index) noexcept {
    iovec none{nullptr, 0};  // an empty slot: the kernel unpins what was there
    const __u64 no_tag = 0;
    (void)::io_uring_register_buffers_update_tag(&ring_, static_cast<unsigned>(index), &none, &no_tag, 1);
    buffers_used_ &= ~(1u << index);
  }

  // A fresh entry for `c` (its user_data set). When the submission queue is
  // full, what it holds is submitted first (no wait).
  io_uring_sqe* entry(completion& c) noexcept {
    io_uring_sqe* sqe = next_sqe();
    ::io_uring_sqe_set_data(sqe, &c);
    ++c.in_flight;
    return sqe;
  }
  // Submits the queued entries now (one io_uring_enter), without waiting.
  void submit() noexcept {
    held_turns_ = 0;
    if (::io_uring_sq_ready(&ring_) == 0) return;
    ++stats_.enters;
    (void)::io_uring_submit(&ring_);
  }
  bool has_unsubmitted() const noexcept { return ::io_uring_sq_ready(&ring_) != 0; }

  // Runs the completions there are, submitting first what is queued; no wait.
  // Returns how many ran.
  unsigned poll() noexcept {
    submit();
    return reap();
  }
  // The same between turns that have tasks ready: the entries queued wait for
  // the turn that waits (which submits them in its one call), unless they have
  // waited `patience` turns (a loop that is never idle).
  unsigned step() noexcept {
    if (has_unsubmitted() && ++held_turns_ >= patience) submit();
    return reap();
  }
  // One turn: a reply sent from a frame's handling goes with the next wait
  // (ping: one enter an echo), and under load (memcache, 50 connections) no
  // reply waits behind more than one busy turn (a patience of 4 cost them
  // throughput, noisy as it was measured).
  static constexpr unsigned patience = 2;

  // Submits what is queued and waits for a completion, `timeout` at most (a
  // negative one: no limit); then runs the completions. One io_uring_enter.
  unsigned wait(duration timeout) noexcept {
    if (::io_uring_cq_ready(&ring_) != 0) return step();  // completions there already
    held_turns_ = 0;
    io_uring_cqe* cqe = nullptr;
    ++stats_.enters;
    if (timeout < duration::zero()) {
      (void)::io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, nullptr, nullptr);
    } else {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
      __kernel_timespec ts{ns / 1000000000, ns % 1000000000};
      (void)::io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    return reap();
  }

  // Asks the kernel to end `c`'s entries, and runs the ring until they have
  // (their `done` sees -ECANCELED, or their result), a second at most. For a
  // device that closes while the loop goes on.
  void retire(completion& c) noexcept {
    if (!open_) return;
    for (int turn = 0; c.in_flight > 0 && turn < 1000; ++turn) {
      cancel(c);
      wait(std::chrono::milliseconds(1));
    }
  }
  // Queues a request to end `c`'s entries (their `done` sees -ECANCELED, or
  // their result if they completed first); no wait.
  void cancel(completion& c) noexcept {
    io_uring_sqe* sqe = next_sqe();
    ::io_uring_prep_cancel(sqe, &c, IORING_ASYNC_CANCEL_ALL);
    ::io_uring_sqe_set_data(sqe, nullptr);
  }

  // Blocks `signals` and wakes the wait when one is pending (above); then lets
  // them in and calls after(arg).
  bool forward_signals(std::initializer_list<int> signals, void (*after)(void*), void* arg) noexcept {
    sigemptyset(&forwarded_);
    for (const int s : signals) sigaddset(&forwarded_, s);
    if (::sigprocmask(SIG_BLOCK, &forwarded_, nullptr) != 0) return false;
    signal_fd_ = ::signalfd(-1, &forwarded_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) {
      (void)::sigprocmask(SIG_UNBLOCK, &forwarded_, nullptr);
      return false;
    }
    after_ = after;
    after_arg_ = arg;
    signal_.loop = this;
    signal_.done = [](completion& c, int res) {
      uring_loop& l = *static_cast<signal_watch&>(c).loop;
      if (res == -ECANCELED || l.signal_fd_ < 0) return;
      ++l.stats_.signals;
      (void)::sigprocmask(SIG_UNBLOCK, &l.forwarded_, nullptr);  // the pending ones are delivered here
      (void)::sigprocmask(SIG_BLOCK, &l.forwarded_, nullptr);
      l.after_(l.after_arg_);
      l.watch_signals();
    };
    watch_signals();
    return true;
  }

  // A one-shot poll of `fd` for input: `c` completes when it is readable (at
  // once if it is already).
  void poll_readable(int fd, completion& c) noexcept { ::io_uring_prep_poll_add(entry(c), fd, POLLIN); }

  void close() noexcept {
    if (signal_fd_ >= 0) {
      ::close(signal_fd_);
      signal_fd_ = -1;
      (void)::sigprocmask(SIG_UNBLOCK, &forwarded_, nullptr);
    }
    if (open_) ::io_uring_queue_exit(&ring_);
    open_ = false;
  }

 private:
  // A free submission entry; when the queue is full, what it holds is submitted first.
  io_uring_sqe* next_sqe() noexcept {
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
    if (!sqe) {
      ++stats_.full;
      submit();
      sqe = ::io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  unsigned reap() noexcept {
    if (has_deferred(ring_)) {  // completions the kernel holds until asked (init_ring)
      ++stats_.enters;
      (void)::io_uring_get_events(&ring_);
    }
    io_uring_cqe* cqe = nullptr;
    unsigned seen = 0;
    // One at a time: a `done` may queue entries, or retire() reap inside it.
    while (::io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe) {
      auto* c = static_cast<completion*>(::io_uring_cqe_get_data(cqe));
      const int res = cqe->res;
      ::io_uring_cqe_seen(&ring_, cqe);
      ++seen;
      if (!c) continue;  // a cancel's own completion
      --c->in_flight;
      c->done(*c, res);
    }
    stats_.completions += seen;
    return seen;
  }

  void watch_signals() noexcept { poll_readable(signal_fd_, signal_); }
  static int free_index(unsigned used, unsigned size) noexcept {
    for (unsigned i = 0; i < size; ++i)
      if (!(used & (1u << i))) return static_cast<int>(i);
    return -1;
  }

  io_uring ring_{};
  bool open_ = false;
  bool files_made_ = false, buffers_made_ = false;
  unsigned files_used_ = 0, buffers_used_ = 0;  // bit i: table entry i taken
  unsigned held_turns_ = 0;  // turns the queued entries have waited (step())
  stats stats_;
  int signal_fd_ = -1;
  sigset_t forwarded_{};
  struct signal_watch : completion {
    uring_loop* loop = nullptr;
  } signal_;
  void (*after_)(void*) = nullptr;
  void* after_arg_ = nullptr;
};

}  // namespace uni::posix
