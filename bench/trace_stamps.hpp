// bench/trace_stamps.hpp: the recorder of a traced benchmark twin (built with
// UNI_TRACE=1 for bench/trace.sh), stamped by the host's monotonic clock as
// --trace does, or, with UNI_TRACE_CLOCK=stack, by the stack's manual clock,
// which costs nothing to read: what recording alone costs. Untraced, nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include <uni/sim/manual_clock.hpp>
#include <uni/trace/recorder.hpp>

namespace bench {

// The host's monotonic clock, as a POSIX appliance's trace reads it.
struct steady_clock_source {
  uni::time_point now() const noexcept {
    return uni::time_point(std::chrono::duration_cast<uni::duration>(std::chrono::steady_clock::now().time_since_epoch()));
  }
};

// Records (when traced) from its construction to its end; stays where it is built.
class trace_stamps {
 public:
  trace_stamps(std::size_t events, uni::sim::ManualClock& stack_clock) {
    if constexpr (uni::trace::compiled) {
      const char* stamps = std::getenv("UNI_TRACE_CLOCK");
      if (stamps && std::string_view(stamps) == "stack") recorder_.emplace(events, stack_clock);
      else recorder_.emplace(events, wall_);
    }
  }
  bool on() const noexcept { return recorder_.has_value(); }
  std::uint64_t recorded() const noexcept { return recorder_ ? recorder_->recorded() : 0; }

 private:
  steady_clock_source wall_;
  std::optional<uni::trace::recorder> recorder_;
};

}  // namespace bench
