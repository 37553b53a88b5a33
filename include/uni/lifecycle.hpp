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

namespace detail {

// The stop request cancels the service (its joiner then wakes), unless the
// service ended first: then its status stands.
inline task<void> then_cancel(task<void> stop, join_handle<int>& service, bool& asked) {
  co_await std::move(stop);
  if (service.done()) co_return;
  asked = true;
  service.cancel();
}

}  // namespace detail

// Runs `service` until it ends or `stop` (the platform's stop request) completes;
// `stop` says why it stopped in the log. Returns the exit status.
// (One await here, no wrapper coroutine around the service: each costs code.)
inline task<int> serve_until_stopped(scheduler& sched, std::string_view name, task<int> service, task<void> stop,
                                     function_ref<void()> report) {
  bool asked = false;
  auto running = spawn(sched, std::move(service));
  auto stopping = spawn(sched, detail::then_cancel(std::move(stop), running, asked));
  const auto r = co_await running.join();
  int status = 0;
  if (!asked) {
    status = r ? *r : 1;
    if (status != 0) log_info(name, ": the service ended with status ", status);
  }
  stopping.cancel();
  report();
  co_return status;
}

}  // namespace uni
