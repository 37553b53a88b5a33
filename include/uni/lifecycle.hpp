// uni/lifecycle.hpp: how an appliance runs and stops, the same on every target.
// The service starts at once; the appliance ends
//   - as soon as the service ends, with its status (a service that cannot start,
//     a client that has its answer), or
//   - when the platform asks it to stop (SIGINT/SIGTERM on POSIX, the toolstack's
//     shutdown on Xen): the service is cancelled, releasing what it holds, and
//     the status is 0;
// and then its counters are printed. The platform supplies only the stop request.
#pragma once

#include <coroutine>
#include <string_view>

#include <uni/concepts.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>

namespace uni {

// The platform's stop request: `changed` is notified whenever a stop may have
// been asked for since; `asked(name)` says whether it was, and then logs why
// (it is not asked again). A check, not a task: each coroutine costs code.
// run_until_stopped calls `asked` at every turn of the run loop: there it must
// be cheap while nothing has changed.
struct stop_request {
  wait_queue& changed;
  function_ref<bool(std::string_view name)> asked;
};

namespace detail {
// co_await: until the spawned service ends or the queue is notified. The waiter
// not woken leaves its list (or the ready queue) when the await is over. (Out
// of line: one call where the coroutine suspends and one where it resumes or
// dies; built in place, not from awaiter temporaries GCC would copy.)
struct end_or_notified {
  [[gnu::noinline]] end_or_notified(join_handle<int>& service, wait_queue& q) noexcept
      : ended(service.join()), notified(q.wait()) {}
  join_handle<int>::join_awaiter ended;
  wait_queue::wait_awaiter notified;
  bool await_ready() const noexcept { return ended.await_ready(); }
  [[gnu::noinline]] void await_suspend(std::coroutine_handle<> h) noexcept {
    ended.await_suspend(h);
    notified.await_suspend(h);
  }
  void await_resume() const noexcept {}
  [[gnu::noinline]] ~end_or_notified() {}
};

// How serving ends, once the service has ended or a stop was asked for: the
// service's status if it ended (a line if it is not 0), else 0; the service
// cancelled if it still runs; the counters reported.
inline int end_serving(join_handle<int>& running, std::string_view name, function_ref<void()> report) noexcept {
  int status = 0;
  if (running.done()) {
    const auto r = running.value();
    status = r ? *r : 1;
    if (status != 0) log_info(name, ": the service ended with status ", status);
  }
  running.cancel();
  report();
  return status;
}
}  // namespace detail

// Runs `service` until it ends or `stop` is asked for. Returns the exit status:
// the service's if it ended first (its status stands even if a stop came too),
// else 0, the service cancelled.
inline task<int> serve_until_stopped(scheduler& sched, std::string_view name, task<int> service, stop_request stop,
                                     function_ref<void()> report) {
  auto running = spawn(sched, std::move(service));
  while (!stop.asked(name)) {
    co_await detail::end_or_notified(running, stop.changed);
    if (running.done()) break;
  }
  co_return detail::end_serving(running, name, report);
}

// The same, for a main that is no coroutine (Xen's appliances): the run
// loop itself (uni::run's), with the stop request checked between its turns
// rather than by a coroutine woken by `stop.changed` -- neither that coroutine
// nor its awaits are code of the image. Returns the exit status.
template <Clock C>
int run_until_stopped(scheduler& sched, C& clock, std::string_view name, task<int> service, stop_request stop,
                      function_ref<void()> report) {
  auto running = spawn(sched, std::move(service));
  while (!stop.asked(name)) {
    sched.advance(clock.now());
    sched.run_ready();
    if (running.done()) break;
    clock.wait_until(sched.has_ready() ? time_point{} : sched.next_deadline());
  }
  return detail::end_serving(running, name, report);
}

}  // namespace uni
