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
