// uni/lifecycle.hpp: how an appliance runs and stops, the same on every target.
// The service starts at once; the appliance ends
//   - as soon as the service ends, with its status (a service that cannot start,
//     a client that has its answer), or
//   - when the platform asks it to stop (SIGINT/SIGTERM on POSIX, the toolstack's
//     shutdown on Xen): the service is cancelled, releasing what it holds, and
//     the status is 0;
// and then its counters are printed. The platform supplies only the stop request.
#pragma once

#include <string_view>

#include <uni/core/function_ref.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>

namespace uni {

// Runs `service` until it ends or `stop` (the platform's stop request) completes;
// `stop` says why it stopped in the log. Returns the exit status: the service's
// if it ended first (its status stands even if a stop came too), else 0, the
// service cancelled. (One await here, no wrapper coroutine around the service
// or the stop: each costs code.)
inline task<int> serve_until_stopped(scheduler& sched, std::string_view name, task<int> service, task<void> stop,
                                     function_ref<void()> report) {
  auto running = spawn(sched, std::move(service));
  auto stopping = spawn(sched, std::move(stop));
  co_await first_to_end(running, stopping);
  int status = 0;
  if (running.done()) {
    const auto r = running.value();
    status = r ? *r : 1;
    if (status != 0) log_info(name, ": the service ended with status ", status);
  }
  running.cancel();
  stopping.cancel();
  report();
  co_return status;
}

}  // namespace uni
