// bench/trace_stamps.hpp: the recorder of a traced benchmark twin (built with
// UNI_TRACE=1 for bench/trace.sh): a ring of `events` as --trace makes, its
// events stamped by the run loop's turns (uni/trace/recorder.hpp). Untraced,
// nothing. UNI_TRACE_EVENTS=N sets another ring size (what the cache does to
// the cost). Also the CPU time the benchmarks divide by: the machine is shared,
// and another process's time slice is not the stack's cost. Nor, mostly, is the
// cache another process left cold, which CPU time does count: `cpu_laps` times
// equal slices of the work, and their median leaves out the slices a context
// switch fell into (see bench/trace.sh).
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

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

// The context switches of this thread so far (voluntary and not).
inline long context_switches() noexcept {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_nvcsw + u.ru_nivcsw;
}

// The CPU time of equal laps of work: lap() at each lap's end, median() the
// typical lap's seconds, which a few disturbed laps do not move.
class cpu_laps {
 public:
  explicit cpu_laps(std::size_t expected) { laps_.reserve(expected); }
  void start() noexcept {
    last_ = cpu_seconds();
    switches_ = context_switches();
  }
  void lap() {
    const double now = cpu_seconds();
    laps_.push_back(now - last_);
    last_ = now;
  }
  std::size_t count() const noexcept { return laps_.size(); }
  double median() const {
    if (laps_.empty()) return 0;
    std::vector<double> sorted = laps_;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    return sorted[sorted.size() / 2];
  }
  // Context switches since start().
  long switches() const noexcept { return context_switches() - switches_; }

 private:
  std::vector<double> laps_;
  double last_ = 0;
  long switches_ = 0;
};

}  // namespace bench
