// uni/core/scheduler.hpp: the cooperative scheduler: a ready queue and a timer heap.
//
// As in Mirage (Lwt), one thread runs everything; coroutines are the lightweight
// threads. A suspended coroutine is represented by a `waiter`, an intrusive node
// that lives in the coroutine's own frame (inside the awaiter), so waiting never
// allocates. A waiter sits in at most one list (a wait queue or the ready queue)
// and, if it has a deadline, in the timer heap as well. Its destructor unlinks it
// from both: destroying a suspended coroutine (cancellation) is always safe.
//
// The scheduler has no clock of its own: the run loop (uni/core/run.hpp) feeds it
// the time from a Clock policy and asks the platform to wait for I/O or the next
// deadline.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>

#include <uni/core/panic.hpp>
#include <uni/core/time.hpp>

namespace uni {

enum class wake_reason : std::uint8_t { none, notified, timed_out, cancelled };

class waitlist;
class scheduler;

// A suspended coroutine and why it was woken.
struct waiter {
  std::coroutine_handle<> handle{};
  wake_reason reason = wake_reason::none;
  bool timed = false;  // this is a timed_waiter, and is in the timer heap
  waiter* next = nullptr;
  waiter* prev = nullptr;
  waitlist* list = nullptr;

  waiter() noexcept = default;
  explicit waiter(std::coroutine_handle<> h) noexcept : handle(h) {}
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;
  inline ~waiter();
};

// A waiter that may also wait for a deadline: a node of the timer heap
// (a pairing heap: O(1) insert, O(log n) amortised removal of any node).
struct timed_waiter : waiter {
  time_point deadline{};
  std::uint64_t sequence = 0;  // ties between equal deadlines fire in FIFO order
  timed_waiter* child = nullptr;
  timed_waiter* sibling = nullptr;
  timed_waiter* back = nullptr;  // left sibling, or the parent for a leftmost child
  scheduler* heap = nullptr;
  inline ~timed_waiter();
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
    if (heap_) panic("scheduler destroyed with timers pending");
  }

  time_point now() const noexcept { return now_; }

  // Makes `w` runnable (no effect if it already is), taking it out of its wait
  // list and the timer heap.
  void wake(waiter& w, wake_reason why) noexcept {
    if (w.timed) remove_timer(static_cast<timed_waiter&>(w));
    if (w.list == &ready_) return;
    if (w.list) w.list->remove(w);
    w.reason = why;
    ready_.push_back(w);
  }

  // Adds `w` to the timer heap; when `deadline` passes it wakes with timed_out.
  void add_timer(timed_waiter& w, time_point deadline) noexcept {
    if (w.timed) remove_timer(w);
    w.deadline = deadline;
    w.sequence = next_sequence_++;
    w.child = w.sibling = w.back = nullptr;
    w.heap = this;
    w.timed = true;
    heap_ = heap_ ? meld(heap_, &w) : &w;
    ++timers_;
  }

  void remove_timer(timed_waiter& w) noexcept {
    if (!w.timed) return;
    if (&w == heap_) {
      heap_ = merge_pairs(w.child);
    } else {
      // Cut w's subtree out of its parent's child list, then meld its children back.
      if (w.back->child == &w) w.back->child = w.sibling;
      else w.back->sibling = w.sibling;
      if (w.sibling) w.sibling->back = w.back;
      timed_waiter* sub = merge_pairs(w.child);
      if (sub) heap_ = meld(heap_, sub);
    }
    if (heap_) heap_->back = nullptr;
    w.child = w.sibling = w.back = nullptr;
    w.heap = nullptr;
    w.timed = false;
    --timers_;
  }

  // The earliest deadline in the heap, or time_never.
  time_point next_deadline() const noexcept { return heap_ ? heap_->deadline : time_never; }
  bool has_ready() const noexcept { return !ready_.empty(); }
  std::size_t ready_count() const noexcept { return ready_.size(); }
  std::size_t timer_count() const noexcept { return timers_; }
  const stats& statistics() const noexcept { return stats_; }

  // Sets the current time and wakes every waiter whose deadline has passed.
  void advance(time_point now) noexcept {
    if (now > now_) now_ = now;
    while (heap_ && heap_->deadline <= now_) {
      ++stats_.timers_fired;
      wake(*heap_, wake_reason::timed_out);
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
      w->handle.resume();  // may destroy w: it lives in the coroutine frame
    }
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
  static bool earlier(const timed_waiter* a, const timed_waiter* b) noexcept {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->sequence < b->sequence);
  }
  // Both arguments are roots (no siblings); the later becomes the leftmost child.
  static timed_waiter* meld(timed_waiter* a, timed_waiter* b) noexcept {
    if (earlier(b, a)) {
      timed_waiter* t = a;
      a = b;
      b = t;
    }
    b->sibling = a->child;
    if (a->child) a->child->back = b;
    b->back = a;
    a->child = b;
    a->sibling = nullptr;
    a->back = nullptr;
    return a;
  }
  // Two-pass pairing of a sibling list into one tree.
  static timed_waiter* merge_pairs(timed_waiter* first) noexcept {
    timed_waiter* pairs = nullptr;  // melded pairs, last first, linked by sibling
    while (first) {
      timed_waiter* a = first;
      timed_waiter* b = a->sibling;
      a->sibling = a->back = nullptr;
      if (!b) {
        a->sibling = pairs;
        pairs = a;
        break;
      }
      first = b->sibling;
      b->sibling = b->back = nullptr;
      timed_waiter* m = meld(a, b);
      m->sibling = pairs;
      pairs = m;
    }
    timed_waiter* root = pairs;
    if (!root) return nullptr;
    pairs = root->sibling;
    root->sibling = nullptr;
    while (pairs) {
      timed_waiter* next = pairs->sibling;
      pairs->sibling = nullptr;
      root = meld(root, pairs);
      pairs = next;
    }
    return root;
  }

  waitlist ready_;
  timed_waiter* heap_ = nullptr;
  std::size_t timers_ = 0;
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
    time_point deadline;
    timed_waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w.handle = h;
      q.list_.push_back(w);
      if (deadline != time_never) q.sched_->add_timer(w, deadline);
    }
    wake_reason await_resume() const noexcept { return w.reason; }
  };
  wait_awaiter wait() noexcept { return {*this, time_never}; }
  // Returns notified, or timed_out once `deadline` passes.
  wait_awaiter wait_until(time_point deadline) noexcept { return {*this, deadline}; }
  wait_awaiter wait_for(duration d) noexcept { return {*this, sched_->now() + d}; }

  scheduler& sched() const noexcept { return *sched_; }

 private:
  void wake_all(wake_reason why) noexcept {
    while (waiter* w = list_.front()) sched_->wake(*w, why);
  }
  scheduler* sched_;
  waitlist list_;
};

}  // namespace uni
