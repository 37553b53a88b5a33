// bench/trace_stamps.hpp: the recorder of a traced benchmark twin (built with
// UNI_TRACE=1 for bench/trace.sh): a ring of `events` as --trace makes, its
// events stamped by the run loop's turns (uni/trace/recorder.hpp). Untraced,
// nothing. UNI_TRACE_EVENTS=N sets another ring size (what the cache does to
// the cost). Also the CPU time the benchmarks divide by: the machine is shared,
// and another process's time slice is not the stack's cost.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include <uni/trace/recorder.hpp>

namespace bench {

// Records (when traced) from its construction to its end; stays where it is built.
class trace_stamps {
 public:
  explicit trace_stamps(std::size_t events) {
    if constexpr (uni::trace::compiled) {
      const char* size = std::getenv("UNI_TRACE_EVENTS");
      recorder_.emplace(size ? std::strtoull(size, nullptr, 10) : events);
    }
  }
  bool on() const noexcept { return recorder_.has_value(); }
  std::uint64_t recorded() const noexcept { return recorder_ ? recorder_->recorded() : 0; }

 private:
  std::optional<uni::trace::recorder> recorder_;
};

// This thread's CPU time in seconds.
inline double cpu_seconds() noexcept {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace bench
