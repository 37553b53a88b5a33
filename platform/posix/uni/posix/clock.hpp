// uni/posix/clock.hpp: PosixClock, the Clock policy of a POSIX process.
//
// Time is CLOCK_MONOTONIC (std::chrono::steady_clock). The platform's one
// blocking call is the Asio io_context: wait_until(t) runs one Asio handler (a
// TAP read, a socket completion, a signal), waiting for it until t at most.
// Handlers deliver frames and wake coroutines; the run loop then resumes them
// and comes back. One handler per turn keeps each turn to one epoll_wait at most:
// handlers already queued run without one, and the reactor is asked (with no
// timeout when handlers are queued behind it) only when nothing else is left.
// Devices that hold output until the loop comes round (TapNetif's merged
// segments) flush before each wait (before_each_wait) instead of posting a
// handler, which would cost the turn one more epoll_wait.
// With a busy-poll time (set_busy_poll, --busy-poll), a wait first polls for
// that long: on a virtual machine a halted CPU takes tens of microseconds to
// wake, which a latency-bound appliance may prefer to pay in CPU.
// With a ring (use_ring, the TAP target: uni/posix/uring_loop.hpp) the wait is
// the ring's instead: one io_uring_enter submits the turn's entries and waits
// for a completion until t; the busy poll peeks at its completion queue.
#pragma once

#include <sys/prctl.h>

#include <csignal>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <cstddef>

#include <uni/concepts.hpp>
#include <uni/core/time.hpp>
#include <uni/posix/uring_loop.hpp>

namespace uni::posix {

class PosixClock {
 public:
  static constexpr std::size_t max_flushers = 8;  // one per device that holds output

  // Linux delays timer wake-ups by up to 50 µs by default to batch them; an
  // appliance's timers are its work, so the clock asks for 1 ns slack.
  explicit PosixClock(boost::asio::io_context& io) noexcept : io_(io), work_(io.get_executor()) {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  }

  time_point now() const noexcept {
    return time_point{std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch())};
  }

  void wait_until(time_point t) {
    for (std::size_t i = 0; i < flushers_; ++i) flush_[i].run(flush_[i].device);
    time_point n = now();
    if (ring_) return ring_wait(t, n);
    if (t <= n) {
      io_.poll_one();  // ready work: take what I/O is there, without blocking
      return;
    }
    if (busy_poll_ > duration::zero()) {
      const time_point until = n + busy_poll_ < t ? n + busy_poll_ : t;
      while (true) {
        if (io_.poll_one() != 0) return;
        n = now();
        if (n >= until) break;
      }
      if (t <= n) return;
    }
    if (t == time_never) io_.run_one();
    else io_.run_one_for(t - n);
  }

  // How long each wait polls before it blocks (zero: it blocks at once).
  void set_busy_poll(duration d) noexcept { busy_poll_ = d; }

  // `run(device)` is called before every wait. False when the table is full (the
  // device then flushes by itself, through a posted handler).
  bool before_each_wait(void (*run)(void*), void* device) noexcept {
    if (flushers_ == max_flushers) return false;
    flush_[flushers_++] = {run, device};
    return true;
  }

  boost::asio::io_context& context() noexcept { return io_; }

  // Waits on `ring` (open) from now on; the signals Asio handles wake it, and
  // Asio's handlers they make ready run then.
  // False (the clock stays on Asio) if the signals cannot be forwarded.
  bool use_ring(uring_loop& ring) noexcept {
    if (!ring.forward_signals({SIGINT, SIGTERM, SIGUSR1},
                              [](void* io) { static_cast<boost::asio::io_context*>(io)->poll(); }, &io_))
      return false;
    ring_ = &ring;
    return true;
  }
  uring_loop* ring() const noexcept { return ring_; }

 private:
  void ring_wait(time_point t, time_point n) {
    if (t <= n) {  // tasks are ready: what completed, without a wait
      ring_->step();
      return;
    }
    if (busy_poll_ > duration::zero()) {
      const time_point until = n + busy_poll_ < t ? n + busy_poll_ : t;
      while (true) {
        if (ring_->poll() != 0) return;
        n = now();
        if (n >= until) break;
      }
      if (t <= n) return;
    }
    ring_->wait(t == time_never ? duration(-1) : t - n);
  }

  struct flusher {
    void (*run)(void*) = nullptr;
    void* device = nullptr;
  };
  boost::asio::io_context& io_;
  // Keeps run_one() blocking when no I/O is outstanding (a server waiting on a timer).
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::array<flusher, max_flushers> flush_{};
  std::size_t flushers_ = 0;
  duration busy_poll_{};
  uring_loop* ring_ = nullptr;
};

static_assert(Clock<PosixClock>);

}  // namespace uni::posix
