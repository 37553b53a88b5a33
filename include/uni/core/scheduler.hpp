// uni/core/scheduler.hpp: the cooperative scheduler: a ready queue and a timer heap.
//
// As in Mirage (Lwt), one thread runs everything; coroutines are the lightweight
// threads. A suspended coroutine is represented by a `waiter`, an intrusive node
// that lives in the coroutine's own frame (inside the awaiter), so waiting on a
// queue never allocates. A waiter sits in at most one list (a wait queue or the
// ready queue) and, if it has a deadline, has an entry in the timer heap as well:
// a 4-ary array heap whose keys sit inline, so firing a timer touches no frame
// but the one it wakes (the heap grows to the most timers ever pending;
// reserve_timers() sizes it up front). A waiter's destructor unlinks it from
// both: destroying a suspended coroutine (cancellation) is always safe.
//
// The scheduler has no clock of its own: the run loop (uni/core/run.hpp) feeds it
// the time from a Clock policy and asks the platform to wait for I/O or the next
// deadline.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <memory>

#include <uni/core/function_ref.hpp>
#include <uni/core/panic.hpp>
#include <uni/core/time.hpp>
#include <uni/trace/hooks.hpp>

namespace uni {

enum class wake_reason : std::uint8_t { none, notified, timed_out, cancelled };

class waitlist;
class scheduler;

// A suspended coroutine (or a callback_waiter, below) and why it was woken. Only
// what is read before it waits is set when it is made (an awaiter's waiter is made
// at every co_await): the handle when it waits, next and prev when it joins a list.
struct waiter {
  std::coroutine_handle<> handle;
  wake_reason reason = wake_reason::none;
  bool timed = false;  // this is a timed_waiter, and is in the timer heap
  waiter* next;
  waiter* prev;
  waitlist* list = nullptr;
#if defined(UNI_TRACE) && UNI_TRACE
  std::uint32_t task = trace::current_task;  // whose waiter: made in the task that waits
#endif

  waiter() noexcept {}
  explicit waiter(std::coroutine_handle<> h) noexcept : handle(h) {}
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;
  inline ~waiter();
};

// A waiter that may also wait for a deadline: an entry of the timer heap, which
// knows its place there (index), so that it can leave in O(log n).
// Its heap fields are set by add_timer.
struct timed_waiter : waiter {
  time_point deadline;
  std::uint64_t sequence;  // ties between equal deadlines fire in FIFO order
  std::size_t index;  // position in the scheduler's timer heap
  scheduler* heap;
  timed_waiter() noexcept {}
  inline ~timed_waiter();
};

// A waiter that calls a function instead of resuming a coroutine: woken (notified,
// timed out or cancelled), it is run in its turn as a coroutine would be, and the
// function gets why. Work that waits in a loop (the stack's timers) re-arms it from
// the function, without a coroutine's frame and actor. A waiter with no coroutine
// handle is one of these.
struct callback_waiter : timed_waiter {
  function_ref<void(wake_reason)> on_wake;
  explicit callback_waiter(function_ref<void(wake_reason)> f) noexcept : on_wake(f) { trace::set_task(*this, 0); }
};

// An intrusive FIFO of waiters.
class waitlist {
 public:
  waitlist() noexcept = default;
  waitlist(const waitlist&) = delete;
  waitlist& operator=(const waitlist&) = delete;
  ~waitlist() {
    if (head_) panic("waitlist destroyed with waiters still in it");
  }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  waiter* front() const noexcept { return head_; }

  void push_back(waiter& w) noexcept {
    w.list = this;
    w.next = nullptr;
    w.prev = tail_;
    (tail_ ? tail_->next : head_) = &w;
    tail_ = &w;
    ++size_;
  }
  void remove(waiter& w) noexcept {
    (w.prev ? w.prev->next : head_) = w.next;
    (w.next ? w.next->prev : tail_) = w.prev;
    w.next = w.prev = nullptr;
    w.list = nullptr;
    --size_;
  }
  waiter* pop_front() noexcept {
    waiter* w = head_;
    if (w) remove(*w);
    return w;
  }

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
  std::size_t size_ = 0;
};

class scheduler {
 public:
  struct stats {
    std::uint64_t resumed = 0;      // coroutine resumptions from the ready queue
    std::uint64_t timers_fired = 0;
  };

  scheduler() noexcept = default;
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;
  ~scheduler() {
    if (timers_ != 0) panic("scheduler destroyed with timers pending");
  }

  time_point now() const noexcept { return now_; }

  // Grows the timer heap ahead of time, so adding up to `n` timers allocates
  // nothing (the heap otherwise grows to the most timers ever pending).
  void reserve_timers(std::size_t n) {
    if (n > room_) grow_heap(n);
  }

  // Makes `w` runnable (no effect if it already is), taking it out of its wait
  // list and the timer heap.
  void wake(waiter& w, wake_reason why) noexcept {
    if (w.timed) remove_timer(static_cast<timed_waiter&>(w));
    if (w.list == &ready_) return;
    if (w.list) w.list->remove(w);
    w.reason = why;
    ready_.push_back(w);
    if constexpr (trace::compiled) trace::note(trace::kind::task_wake, trace::current_task, trace::task_of(w));
  }

  // Adds `w` to the timer heap; when `deadline` passes it wakes with timed_out.
  void add_timer(timed_waiter& w, time_point deadline) noexcept {
    if (w.timed) remove_timer(w);
    w.deadline = deadline;
    w.sequence = next_sequence_++;
    w.heap = this;
    w.timed = true;
    if (timers_ == room_) grow_heap(room_ ? 2 * room_ : 16);
    sift_up(timers_++, {deadline, w.sequence, &w});
    if constexpr (trace::compiled) {
      const auto ns = static_cast<std::uint64_t>(deadline.time_since_epoch().count());
      trace::note(trace::kind::timer_arm, trace::task_of(w), ns);
    }
  }

  void remove_timer(timed_waiter& w) noexcept {
    if (!w.timed) return;
    const std::size_t i = w.index;
    const entry last = heap_[--timers_];
    if (i < timers_) {
      if (i > 0 && earlier(last, heap_[(i - 1) / 4])) sift_up(i, last);
      else sift_down(i, last);
    }
    w.heap = nullptr;
    w.timed = false;
  }

  // The earliest deadline in the heap, or time_never.
  time_point next_deadline() const noexcept { return timers_ == 0 ? time_never : heap_[0].deadline; }
  bool has_ready() const noexcept { return !ready_.empty(); }
  std::size_t ready_count() const noexcept { return ready_.size(); }
  std::size_t timer_count() const noexcept { return timers_; }
  const stats& statistics() const noexcept { return stats_; }

  // Sets the current time and wakes every waiter whose deadline has passed.
  // Traced, the time is the stamp of this turn's events (uni/trace/recorder.hpp).
  void advance(time_point now) noexcept {
    if (now > now_) now_ = now;
    if constexpr (trace::compiled) trace::turn_begins(now_.time_since_epoch().count());
    while (timers_ != 0 && heap_[0].deadline <= now_) {
      ++stats_.timers_fired;
      if constexpr (trace::compiled) {
        trace::current_task = 0;  // a timer wakes it, not a task
        trace::note(trace::kind::timer_fire, trace::task_of(*heap_[0].w));
      }
      wake(*heap_[0].w, wake_reason::timed_out);
    }
  }

  // Resumes the coroutines that are ready now (not those they make ready: a task
  // that keeps yielding cannot starve I/O). Returns how many ran.
  std::size_t run_ready() noexcept {
    std::size_t n = ready_.size();
    std::size_t ran = 0;
    while (ran < n) {
      waiter* w = ready_.pop_front();
      if (!w) break;
      ++ran;
      ++stats_.resumed;
      if constexpr (trace::compiled) {
        if (w->handle) {  // a task (a callback is none: it runs as task 0)
          const std::uint32_t task = trace::current_task = trace::task_of(*w);
          trace::note(trace::kind::task_resume, task);
          w->handle.resume();
          if (trace::current_task == task) trace::note(trace::kind::task_suspend, task);  // else it finished
          trace::current_task = 0;
          continue;
        }
      }
      run(*w);  // may destroy w: it lives in the coroutine frame
    }
    if constexpr (trace::compiled) trace::turn_ends();
    return ran;
  }

  // Puts a coroutine on the ready queue directly (used to start tasks).
  void schedule(waiter& w) noexcept { wake(w, wake_reason::notified); }

  // co_await sched.sleep_until(t) / sleep_for(d) / yield().
  struct sleep_awaiter {
    scheduler& s;
    time_point deadline;
    timed_waiter w{};
    bool await_ready() const noexcept { return deadline <= s.now(); }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w.handle = h;
      s.add_timer(w, deadline);
    }
    void await_resume() const noexcept {}
  };
  sleep_awaiter sleep_until(time_point t) noexcept { return {*this, t}; }
  sleep_awaiter sleep_for(duration d) noexcept { return {*this, now_ + d}; }

  struct yield_awaiter {
    scheduler& s;
    waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w.handle = h;
      s.schedule(w);
    }
    void await_resume() const noexcept {}
  };
  yield_awaiter yield() noexcept { return {*this}; }

 private:
  static void run(waiter& w) noexcept {
    if (w.handle) return w.handle.resume();
    auto& c = static_cast<callback_waiter&>(w);
    c.on_wake(c.reason);
  }

  // A 4-ary implicit heap: keys inline (comparisons never touch a frame), and
  // each waiter knows its index so any node can leave in O(log n).
  struct entry {
    time_point deadline;
    std::uint64_t sequence;
    timed_waiter* w;
  };
  static bool earlier(const entry& a, const entry& b) noexcept {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence);
  }
  void place(std::size_t i, const entry& e) noexcept {
    heap_[i] = e;
    e.w->index = i;
  }
  void sift_up(std::size_t i, entry e) noexcept {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!earlier(e, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  void sift_down(std::size_t i, entry e) noexcept {
    const std::size_t n = timers_;
    while (true) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      for (std::size_t c = first + 1; c < first + 4 && c < n; ++c)
        if (earlier(heap_[c], heap_[best])) best = c;
      if (!earlier(heap_[best], e)) break;
      place(i, heap_[best]);
      i = best;
    }
    place(i, e);
  }

  waitlist ready_;
  // The heap's array, grown by doubling to the most timers ever pending (its only
  // allocations) and never shrunk: a vector's growth, without the generic code of
  // one in every image.
  [[gnu::noinline]] void grow_heap(std::size_t room) {
    std::unique_ptr<entry[]> bigger(new entry[room]);
    std::copy_n(heap_.get(), timers_, bigger.get());
    heap_ = std::move(bigger);
    room_ = room;
  }
  std::unique_ptr<entry[]> heap_;
  std::size_t timers_ = 0;
  std::size_t room_ = 0;
  std::uint64_t next_sequence_ = 0;
  time_point now_{};
  stats stats_;
};

inline waiter::~waiter() {
  if (list) list->remove(*this);
}
inline timed_waiter::~timed_waiter() {
  if (timed) heap->remove_timer(*this);
}

// A queue of coroutines waiting for something to happen (a condition variable
// without a mutex: there is one thread). Waiters re-check their condition.
class wait_queue {
 public:
  explicit wait_queue(scheduler& s) noexcept : sched_(&s) {}
  wait_queue(const wait_queue&) = delete;
  wait_queue& operator=(const wait_queue&) = delete;
  // Anyone still waiting when the queue dies is woken as cancelled.
  ~wait_queue() { wake_all(wake_reason::cancelled); }

  bool empty() const noexcept { return list_.empty(); }
  std::size_t size() const noexcept { return list_.size(); }

  void notify_one() noexcept {
    if (waiter* w = list_.front()) sched_->wake(*w, wake_reason::notified);
  }
  void notify_all() noexcept { wake_all(wake_reason::notified); }

  // co_await q.wait(): returns wake_reason::notified (or cancelled).
  struct wait_awaiter {
    wait_queue& q;
    waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w.handle = h;
      q.list_.push_back(w);
    }
    wake_reason await_resume() const noexcept { return w.reason; }
  };
  // The same with a deadline: the waiter is also in the timer heap.
  struct timed_wait_awaiter {
    wait_queue& q;
    time_point deadline;
    timed_waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w.handle = h;
      q.enqueue(w, deadline);
    }
    wake_reason await_resume() const noexcept { return w.reason; }
  };
  wait_awaiter wait() noexcept { return {*this}; }
  // Returns notified, or timed_out once `deadline` passes.
  timed_wait_awaiter wait_until(time_point deadline) noexcept { return {*this, deadline}; }
  timed_wait_awaiter wait_for(duration d) noexcept { return {*this, sched_->now() + d}; }
  // The same for a callback_waiter (not waiting already): it is run when notified,
  // or timed out once `deadline` passes.
  void wait_until(callback_waiter& w, time_point deadline) noexcept { enqueue(w, deadline); }

  scheduler& sched() const noexcept { return *sched_; }

 private:
  void enqueue(timed_waiter& w, time_point deadline) noexcept {
    list_.push_back(w);
    if (deadline != time_never) sched_->add_timer(w, deadline);
  }
  void wake_all(wake_reason why) noexcept {
    while (waiter* w = list_.front()) sched_->wake(*w, why);
  }
  scheduler* sched_;
  waitlist list_;
};

}  // namespace uni
