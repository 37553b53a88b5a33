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

inline task<int> then_wake(task<int> service, bool& ended, wait_queue& wake) {
  const int status = co_await std::move(service);
  ended = true;
  wake.notify_all();
  co_return status;
}

inline task<void> then_wake(task<void> stop, bool& asked, wait_queue& wake) {
  co_await std::move(stop);
  asked = true;
  wake.notify_all();
}

}  // namespace detail

// Runs `service` until it ends or `stop` (the platform's stop request) completes;
// `stop` says why it stopped in the log. Returns the exit status.
inline task<int> serve_until_stopped(scheduler& sched, std::string_view name, task<int> service, task<void> stop,
                                     function_ref<void()> report) {
  wait_queue wake(sched);
  bool ended = false, asked = false;
  auto running = spawn(sched, detail::then_wake(std::move(service), ended, wake));
  auto stopping = spawn(sched, detail::then_wake(std::move(stop), asked, wake));
  while (!ended && !asked) co_await wake.wait();
  int status = 0;
  if (ended) {
    auto r = co_await running.join();
    status = r ? *r : 1;
    if (status != 0) log_info(name, ": the service ended with status ", status);
  } else {
    running.cancel();
  }
  stopping.cancel();
  report();
  co_return status;
}

}  // namespace uni
