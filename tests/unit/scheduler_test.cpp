#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <uni/core/random.hpp>
#include <uni/core/run.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/sim/manual_clock.hpp>
#include <vector>

using namespace uni;

namespace {
task<void> sleep_and_log(scheduler& s, duration d, int id, std::vector<std::pair<long, int>>& log) {
  co_await s.sleep_for(d);
  log.emplace_back(static_cast<long>(d.count()), id);
}
}  // namespace

TEST_CASE("timers fire in deadline order, ties in arrival order, cancelled ones never", "[scheduler]") {
  scheduler s;
  sim::ManualClock clock;
  random_generator rng(3);
  std::vector<std::pair<long, int>> log;
  auto main = [&]() -> task<void> {
    std::vector<join_handle<void>> hs;
    for (int i = 0; i < 1000; ++i)
      hs.push_back(spawn(s, sleep_and_log(s, duration{static_cast<long>(1 + rng.below(50))}, i, log)));
    co_await s.yield();  // all sleepers are now in the timer heap
    CHECK(s.timer_count() == 1000);
    for (std::size_t i = 0; i < hs.size(); i += 3) hs[i].cancel();  // arbitrary removals
    CHECK(s.timer_count() == 1000 - 334);
    for (auto& h : hs) co_await h.join();
  };
  REQUIRE(run(s, clock, main()).ok());
  REQUIRE(log.size() == 1000 - 334);
  CHECK(std::is_sorted(log.begin(), log.end()));  // by deadline, then by spawn order
  for (auto& [d, id] : log) CHECK(id % 3 != 0);
  CHECK(s.timer_count() == 0);
}

TEST_CASE("the next deadline is the earliest pending timer", "[scheduler]") {
  scheduler s;
  timed_waiter a, b, c;
  CHECK(s.next_deadline() == time_never);
  s.add_timer(a, time_point{30ms});
  s.add_timer(b, time_point{10ms});
  s.add_timer(c, time_point{20ms});
  CHECK(s.next_deadline() == time_point{10ms});
  s.remove_timer(b);
  CHECK(s.next_deadline() == time_point{20ms});
  s.advance(time_point{25ms});
  CHECK(c.reason == wake_reason::timed_out);
  CHECK(s.ready_count() == 1);
  CHECK(s.next_deadline() == time_point{30ms});
  // Destroying a waiter that is in the ready queue or the heap unlinks it.
}

TEST_CASE("a waiter destroyed while queued leaves no trace", "[scheduler]") {
  scheduler s;
  {
    timed_waiter gone;
    s.add_timer(gone, time_point{5ms});
  }
  CHECK(s.timer_count() == 0);
  {
    waiter ready;
    s.schedule(ready);
    CHECK(s.ready_count() == 1);
  }
  CHECK(s.ready_count() == 0);
}

TEST_CASE("a callback waiter is run in its turn, notified or timed out, and may wait again", "[scheduler]") {
  scheduler s;
  wait_queue q(s);
  std::vector<wake_reason> woken;
  callback_waiter* self = nullptr;
  auto on_wake = [&](wake_reason why) {
    woken.push_back(why);
    if (woken.size() < 3) q.wait_until(*self, s.now() + 10ms);  // re-arms itself
  };
  callback_waiter w(on_wake);
  self = &w;
  q.wait_until(w, time_point{10ms});
  CHECK(q.size() == 1);
  CHECK(s.timer_count() == 1);

  // Notified: it leaves the queue and the heap, and runs at the next turn, not before.
  q.notify_one();
  q.notify_one();  // already ready: no effect
  CHECK(q.empty());
  CHECK(s.timer_count() == 0);
  CHECK(woken.empty());
  CHECK(s.run_ready() == 1);
  REQUIRE(woken == std::vector{wake_reason::notified});
  CHECK(q.size() == 1);
  CHECK(s.next_deadline() == time_point{10ms});

  // Its deadline passes: timed out.
  s.advance(time_point{9ms});
  CHECK(s.ready_count() == 0);
  s.advance(time_point{10ms});
  CHECK(q.empty());
  CHECK(s.run_ready() == 1);
  REQUIRE(woken == std::vector{wake_reason::notified, wake_reason::timed_out});
  CHECK(s.next_deadline() == time_point{20ms});

  // Without a deadline it waits only for a notification; a coroutine waits beside it.
  q.notify_one();
  CHECK(s.run_ready() == 1);
  CHECK(woken.size() == 3);  // it did not wait again
  CHECK(q.empty());
  q.wait_until(w, time_never);
  CHECK(s.timer_count() == 0);
  bool resumed = false;
  auto coroutine = [&]() -> task<void> {
    const wake_reason why = co_await q.wait();
    resumed = why == wake_reason::notified;
  };
  auto h = spawn(s, coroutine());
  CHECK(s.run_ready() == 1);  // the coroutine now waits behind the callback
  q.notify_all();
  CHECK(s.run_ready() == 2);
  CHECK(resumed);
  CHECK(woken.size() == 4);
  CHECK(woken.back() == wake_reason::notified);
}

TEST_CASE("a callback waiter is cancelled with its queue, and leaves no trace when destroyed", "[scheduler]") {
  scheduler s;
  std::vector<wake_reason> woken;
  auto on_wake = [&](wake_reason why) { woken.push_back(why); };
  callback_waiter w(on_wake);
  {
    wait_queue q(s);
    q.wait_until(w, time_point{5ms});
  }
  CHECK(s.timer_count() == 0);
  CHECK(s.run_ready() == 1);
  CHECK(woken == std::vector{wake_reason::cancelled});

  wait_queue q(s);
  {
    callback_waiter gone(on_wake);
    q.wait_until(gone, time_point{5ms});
  }
  CHECK(q.empty());
  CHECK(s.timer_count() == 0);
  {
    callback_waiter gone(on_wake);
    q.wait_until(gone, time_point{5ms});
    q.notify_one();  // ready, then destroyed before its turn
  }
  CHECK(s.ready_count() == 0);
  s.advance(time_point{10ms});
  CHECK(s.run_ready() == 0);
  CHECK(woken.size() == 1);
}
