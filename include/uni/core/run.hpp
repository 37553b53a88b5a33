// uni/core/run.hpp: the run loop. Runs the application's main task to its end:
// fire due timers, resume what is ready, then ask the platform (the Clock policy)
// to wait for I/O or the next deadline. Returns the main task's value, which on
// a platform is the appliance's exit status.
#pragma once

#include <uni/concepts.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>

namespace uni {

template <Clock C, class T>
outcome_t<T> run(scheduler& s, C& clock, task<T> main) {
  join_handle<T> h = spawn(s, std::move(main));
  while (!h.done()) {
    s.advance(clock.now());
    s.run_ready();
    if (h.done()) break;
    // Ready work left: only poll for I/O. Otherwise sleep until the next deadline.
    clock.wait_until(s.has_ready() ? time_point{} : s.next_deadline());
  }
  return h.value();
}

}  // namespace uni
