// uni/posix/clock.hpp: PosixClock, the Clock policy of a POSIX process.
//
// Time is CLOCK_MONOTONIC (std::chrono::steady_clock). The platform's one
// blocking call is the Asio io_context: wait_until(t) runs Asio handlers (TAP
// reads, socket completions, signals) until one has run or t passes. Handlers
// deliver frames and wake coroutines; the run loop then resumes them.
#pragma once

#include <sys/prctl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <chrono>

#include <uni/concepts.hpp>
#include <uni/core/time.hpp>

namespace uni::posix {

class PosixClock {
 public:
  // Linux delays timer wake-ups by up to 50 µs by default to batch them; an
  // appliance's timers are its work, so the clock asks for 1 ns slack.
  explicit PosixClock(boost::asio::io_context& io) noexcept : io_(io), work_(io.get_executor()) {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  }

  time_point now() const noexcept {
    return time_point{std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch())};
  }

  void wait_until(time_point t) {
    // Handlers already queued run first, without blocking.
    if (io_.poll() > 0) return;
    const time_point n = now();
    if (t <= n) return;
    if (t == time_never) io_.run_one();
    else io_.run_one_for(t - n);
    io_.poll();  // whatever else became ready while we slept
  }

  boost::asio::io_context& context() noexcept { return io_; }

 private:
  boost::asio::io_context& io_;
  // Keeps run_one() blocking when no I/O is outstanding (a server waiting on a timer).
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
};

static_assert(Clock<PosixClock>);

}  // namespace uni::posix
