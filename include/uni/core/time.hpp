// uni/core/time.hpp: monotonic time as the whole OS sees it: nanoseconds since the
// platform's epoch (boot, process start, or zero for a simulation's manual clock).
// Time is always passed in (clock policies supply it), never read from a global.
#pragma once

#include <chrono>
#include <cstdint>

namespace uni {

using duration = std::chrono::nanoseconds;

// Tag clock: only names the epoch; uni never calls a std clock's now().
struct monotonic_epoch {
  using duration = uni::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<monotonic_epoch, duration>;
  static constexpr bool is_steady = true;
};

using time_point = monotonic_epoch::time_point;

inline constexpr time_point time_never = time_point::max();

// Time points compare as the counts they are. libstdc++'s operator<=> for time
// points is more constrained than its operator<, so `a < b` picks it, and GCC at
// -Oz calls it out of line at each compare (the stack's timers, TCP's, the
// scheduler's heap). These are found by argument-dependent lookup (the epoch is
// uni's) and, being no templates, win over the library's.
constexpr bool operator<(time_point a, time_point b) noexcept {
  return a.time_since_epoch().count() < b.time_since_epoch().count();
}
constexpr bool operator>(time_point a, time_point b) noexcept { return b < a; }
constexpr bool operator<=(time_point a, time_point b) noexcept { return !(b < a); }
constexpr bool operator>=(time_point a, time_point b) noexcept { return !(a < b); }

using namespace std::chrono_literals;

}  // namespace uni
