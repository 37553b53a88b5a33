// uni/core/task.hpp: task<T>, a lazily started coroutine: uni's lightweight thread.
//
// - `co_await child()` runs a child task to completion (symmetric transfer: no
//   scheduler round trip, no stack growth) and yields its value.
// - `spawn(sched, t)` starts a task concurrently and returns a
//   join_handle that owns it: `co_await h.join()` waits for its result;
//   destroying the handle, or `h.cancel()`, cancels it; `h.detach()` lets it run
//   on its own, freeing itself when it finishes; h.value() is an ended task's
//   outcome.
// - `spawn(sched, t, q)` also calls q.notify_one() when t finishes (not when it
//   is cancelled: whoever cancels knows), after it is done(): a supervisor
//   waiting on q for room sees the ended task's slot free, without a coroutine
//   wrapped around each task to say so. q must outlive the task's running.
// - Cancelling destroys the coroutine frame: destructors of its locals run (views
//   return their pages, waiters leave their queues), and the child tasks it was
//   awaiting are destroyed with it. Cancellation is the release of what it held.
// - with_timeout(sched, d, t) runs t and cancels it if it is not done in time.
// Tasks never throw: errors are values (result<T>).
#pragma once

#include <coroutine>
#include <optional>
#include <type_traits>
#include <utility>

#include <uni/core/frame_cache.hpp>
#include <uni/core/panic.hpp>
#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>

namespace uni {

template <class T = void>
class task;
template <class T>
class join_handle;

// What joining a task yields: result<T>, flattened when T is already a result.
template <class T>
struct outcome {
  using type = result<T>;
};
template <class U>
struct outcome<result<U>> {
  using type = result<U>;
};
template <class T>
using outcome_t = typename outcome<T>::type;

namespace detail {

// Storage for the start-of-run node and the joiners of a spawned task; kept in
// the promise so spawning allocates nothing beyond the coroutine frame.
struct spawn_state {
  waiter start;
  waitlist joiners;
};

// What every task's promise holds and does, whatever its value's type: written
// once, not once per T.
struct promise_base {
  // A task is either awaited or spawned, never both (spawning takes the task):
  // one word says what it resumes or notifies when it ends.
  union {
    std::coroutine_handle<> continuation{};  // awaited: the coroutine co_awaiting it
    wait_queue* finished;                    // spawned: notified when it finishes, if not null
  };
  // Only for spawned tasks (null for an awaited one):
  scheduler* sched = nullptr;
  bool done = false;
  bool detached = false;
  bool running_inline = false;  // started by co_await, not yet suspended: see task::awaiter
  spawn_state spawn;

  // Frames come from the recycling cache (frame_cache.hpp), not the heap, once warm.
  static void* operator new(std::size_t n) { return frame_cache::take(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_cache::give(p, n); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { panic("an exception escaped a uni task"); }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return h.promise().finish(h);
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  // Destroyed before it ended (cancelled): its joiners wake as cancelled.
  ~promise_base() {
    while (waiter* w = spawn.joiners.front()) sched->wake(*w, wake_reason::cancelled);
  }

  // The task has ended: what runs next.
  [[gnu::noinline]] inline std::coroutine_handle<> finish(std::coroutine_handle<> self) noexcept;
  // Runs this task, awaited by `outer`, until it first suspends or ends: see
  // task::awaiter. True if it suspended (it resumes `outer` when it ends).
  [[gnu::noinline]] inline bool run_inline(std::coroutine_handle<> self, std::coroutine_handle<> outer) noexcept;
  // Makes this task, not yet started, spawned on `s`: it first runs at s's next
  // turn, and notifies `finished` (if not null) when it finishes.
  [[gnu::noinline]] inline void start_on(scheduler& s, std::coroutine_handle<> self, wait_queue* finished) noexcept;
};

std::coroutine_handle<> promise_base::finish(std::coroutine_handle<> self) noexcept {
  done = true;
  if (!sched) {  // awaited (inline: back into run_inline); a handle resumed by hand has no one to go back to
    if (running_inline || !continuation) return std::noop_coroutine();
    return continuation;
  }
  while (waiter* w = spawn.joiners.front()) sched->wake(*w, wake_reason::notified);
  if (finished) finished->notify_one();
  if constexpr (trace::compiled) trace::finished(trace::task_of(spawn.start), false);
  if (detached) self.destroy();
  return std::noop_coroutine();
}

bool promise_base::run_inline(std::coroutine_handle<> self, std::coroutine_handle<> outer) noexcept {
  continuation = outer;
  running_inline = true;
  self.resume();
  running_inline = false;
  return !done;
}

void promise_base::start_on(scheduler& s, std::coroutine_handle<> self, wait_queue* f) noexcept {
  sched = &s;
  finished = f;
  spawn.start.handle = self;
  if constexpr (trace::compiled) {
    trace::set_task(spawn.start, ++trace::last_task);
    trace::note(trace::kind::task_spawn, trace::last_task, trace::current_task);
  }
  s.schedule(spawn.start);
}

template <class T>
struct promise : promise_base {
  std::optional<T> value;

  task<T> get_return_object() noexcept;
  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct promise<void> : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }

  // Awaiting a task starts it and resumes the awaiting coroutine when it ends.
  // The child runs first on the awaiting coroutine's stack: if it finishes
  // without suspending, the parent goes on without suspending either. (Handing
  // control over by symmetric transfer instead needs the compiler's tail calls,
  // which -O0 and ASan builds lack: a loop of child tasks that complete at once
  // then grows the stack by a frame per iteration until it overflows.)
  struct awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> outer) noexcept {
      return h.promise().run_inline(h, outer);  // suspended: its final_suspend resumes `outer` later
    }
    T await_resume() noexcept {
      if constexpr (!std::is_void_v<T>) return std::move(*h.promise().value);
    }
  };
  awaiter operator co_await() && noexcept {
    if (!h_) panic("co_await on an empty task");
    return awaiter{h_};
  }

  handle_type release() noexcept { return std::exchange(h_, {}); }

 private:
  handle_type h_{};
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}
}  // namespace detail

// Owns a spawned task. Destroying it cancels the task unless detached.
template <class T>
class [[nodiscard]] join_handle {
 public:
  using handle_type = typename task<T>::handle_type;

  join_handle() noexcept = default;
  join_handle(join_handle&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      cancel();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~join_handle() { cancel(); }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_ && h_.promise().done; }

  // Destroys the task wherever it is suspended, releasing what it held.
  void cancel() noexcept {
    if (!h_) return;
    if constexpr (trace::compiled) {
      if (!h_.promise().done) trace::finished(trace::task_of(h_.promise().spawn.start), true);
    }
    std::exchange(h_, {}).destroy();
  }
  // Lets the task run on its own; it frees itself when it finishes.
  void detach() noexcept {
    if (!h_) return;
    auto h = std::exchange(h_, {});
    if (h.promise().done) h.destroy();
    else h.promise().detached = true;
  }

  // co_await h.join(): the task's value as an outcome (cancelled if it was).
  struct join_awaiter {
    join_handle& jh;
    time_point deadline;
    timed_waiter w{};
    bool await_ready() const noexcept { return !jh.h_ || jh.h_.promise().done; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      auto& p = jh.h_.promise();
      w.handle = h;
      p.spawn.joiners.push_back(w);
      if (deadline != time_never) p.sched->add_timer(w, deadline);
    }
    outcome_t<T> await_resume() noexcept {
      if (jh.h_ && w.reason == wake_reason::cancelled) return fail(error::cancelled);
      if (jh.h_ && !jh.h_.promise().done) return fail(error::timed_out);
      return jh.value();
    }
  };
  join_awaiter join() noexcept { return {*this, time_never}; }
  // What join() yields once the task has ended (done()), without a wait: its
  // value, or cancelled if it was.
  outcome_t<T> value() noexcept {
    if (!h_) return fail(error::cancelled);
    if constexpr (std::is_void_v<T>) return {};
    else return std::move(*h_.promise().value);
  }
  // Like join(), but gives up (leaving the task running) with timed_out at `deadline`.
  join_awaiter join_until(time_point deadline) noexcept { return {*this, deadline}; }

 private:
  friend class spawner;
  explicit join_handle(handle_type h) noexcept : h_(h) {}
  handle_type h_{};
};

class spawner {
 public:
  template <class T>
  static join_handle<T> spawn(scheduler& s, task<T> t, wait_queue* finished) noexcept {
    auto h = t.release();
    if (!h) panic("spawn of an empty task");
    h.promise().start_on(s, h, finished);
    return join_handle<T>{h};
  }
};

// Starts `t` concurrently on `s`; it first runs at the scheduler's next turn.
template <class T>
join_handle<T> spawn(scheduler& s, task<T> t) noexcept {
  return spawner::spawn(s, std::move(t), nullptr);
}
// The same, and `finished.notify_one()` when it finishes (not when cancelled).
template <class T>
join_handle<T> spawn(scheduler& s, task<T> t, wait_queue& finished) noexcept {
  return spawner::spawn(s, std::move(t), &finished);
}

// Starts `t` and forgets it: it frees itself when it finishes.
template <class T>
void detach(scheduler& s, task<T> t) noexcept {
  spawn(s, std::move(t)).detach();
}

// Runs `t`; if it has not finished within `d`, cancels it and yields timed_out.
template <class T>
task<outcome_t<T>> with_timeout(scheduler& s, duration d, task<T> t) {
  join_handle<T> h = spawn(s, std::move(t));
  outcome_t<T> r = co_await h.join_until(s.now() + d);
  co_return r;  // h's destructor cancels the task if it is still running
}

}  // namespace uni
