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

using namespace std::chrono_literals;

}  // namespace uni
