// uni/sim/manual_clock.hpp: a Clock whose time moves only when the run loop waits.
//
// wait_until(t) jumps straight to the earlier of t and the next event of an
// attached source (a simulated link delivering a frame), then runs that event.
// Simulations therefore take no wall time and replay identically from a seed.
#pragma once

#include <array>
#include <cstddef>

#include <uni/concepts.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/panic.hpp>
#include <uni/core/time.hpp>

namespace uni::sim {

class ManualClock {
 public:
  static constexpr std::size_t max_sources = 8;

  // A source of events in simulated time: when its next event is, and a call
  // that runs every event due at a time.
  struct event_source {
    function_ref<time_point()> next_event;
    function_ref<void(time_point)> run_due;
  };

  explicit ManualClock(time_point start = time_point{}) noexcept : now_(start) {}

  time_point now() const noexcept { return now_; }

  void attach(event_source s) noexcept {
    if (count_ == max_sources) panic("ManualClock: too many event sources");
    sources_[count_++] = s;
  }

  // Moves time forward by `d` (tests use it to step without a run loop),
  // running source events on the way in order.
  void advance(duration d) noexcept {
    const time_point target = now_ + d;
    while (true) {
      time_point next = next_event();
      if (next > target) break;
      step_to(next);
    }
    now_ = target;
  }

  void wait_until(time_point t) noexcept {
    time_point next = next_event();
    if (t < next) next = t;
    if (next == time_never)
      panic("simulation stalled: no timer and no frame in flight, yet the main task waits");
    step_to(next);
  }

 private:
  time_point next_event() const noexcept {
    time_point next = time_never;
    for (std::size_t i = 0; i < count_; ++i) {
      time_point t = sources_[i].next_event();
      if (t < next) next = t;
    }
    return next;
  }
  void step_to(time_point t) noexcept {
    if (t > now_) now_ = t;
    for (std::size_t i = 0; i < count_; ++i) sources_[i].run_due(now_);
  }

  time_point now_;
  std::array<event_source, max_sources> sources_{};
  std::size_t count_ = 0;
};

static_assert(Clock<ManualClock>);

}  // namespace uni::sim
