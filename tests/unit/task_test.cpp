#include <catch2/catch.hpp>
#include <algorithm>
#include <coroutine>

#include <memory>
#include <string>
#include <uni/core/buffer.hpp>
#include <uni/core/run.hpp>
#include <uni/core/task.hpp>
#include <uni/lifecycle.hpp>
#include <uni/sim/manual_clock.hpp>
#include <vector>

using namespace uni;
using sim::ManualClock;

namespace {
task<int> add(int a, int b) { co_return a + b; }

task<int> nested(int depth) {
  if (depth == 0) co_return 0;
  int below = co_await nested(depth - 1);
  co_return below + 1;
}

task<void> sleeper(scheduler& s, duration d, std::vector<int>& log, int id) {
  co_await s.sleep_for(d);
  log.push_back(id);
}
}  // namespace

TEST_CASE("a task returns its value through co_await", "[task]") {
  scheduler s;
  ManualClock clock;
  auto r = run(s, clock, add(2, 3));
  REQUIRE(r.ok());
  CHECK(*r == 5);
}

TEST_CASE("ten thousand nested awaits complete", "[task]") {
  scheduler s;
  ManualClock clock;
  auto r = run(s, clock, nested(10000));
  REQUIRE(r.ok());
  CHECK(*r == 10000);
}

TEST_CASE("sleeping tasks wake in deadline order, in simulated time", "[task]") {
  scheduler s;
  ManualClock clock;
  std::vector<int> log;
  auto main = [&]() -> task<int> {
    auto a = spawn(s, sleeper(s, 30ms, log, 3));
    auto b = spawn(s, sleeper(s, 10ms, log, 1));
    auto c = spawn(s, sleeper(s, 20ms, log, 2));
    co_await a.join();
    co_await b.join();
    co_await c.join();
    co_return static_cast<int>((s.now() - time_point{}) / 1ms);
  };
  auto r = run(s, clock, main());
  REQUIRE(r.ok());
  CHECK(*r == 30);
  CHECK(log == std::vector<int>{1, 2, 3});
}

TEST_CASE("spawned tasks run concurrently and are joined", "[task]") {
  scheduler s;
  ManualClock clock;
  auto main = [&]() -> task<int> {
    std::vector<join_handle<int>> hs;
    for (int i = 0; i < 100; ++i) hs.push_back(spawn(s, add(i, 1)));
    int sum = 0;
    for (auto& h : hs) sum += *co_await h.join();
    co_return sum;
  };
  auto r = run(s, clock, main());
  REQUIRE(r.ok());
  CHECK(*r == 5050);
}

TEST_CASE("with_timeout cancels a task that is too slow", "[task]") {
  scheduler s;
  ManualClock clock;
  static_page_pool<4> pool;
  bool finished = false;
  auto slow = [&]() -> task<int> {
    view held = *pool.allocate();  // released by cancellation
    co_await s.sleep_for(10s);
    finished = true;
    co_return 1;
  };
  auto main = [&]() -> task<int> {
    auto r = co_await with_timeout(s, 1s, slow());
    CHECK(r.err() == error::timed_out);
    CHECK(pool.available() == 4);  // the page went back when the task was cancelled
    CHECK(s.timer_count() == 0);   // and its sleep left the timer heap
    auto fast = co_await with_timeout(s, 1s, add(1, 1));
    CHECK(fast.ok());
    co_return fast.ok() ? *fast : -1;
  };
  auto r = run(s, clock, main());
  REQUIRE(r.ok());
  CHECK(*r == 2);
  CHECK_FALSE(finished);
  CHECK(s.now() == time_point{1s});
}

TEST_CASE("with_timeout flattens a task that already returns a result", "[task]") {
  scheduler s;
  ManualClock clock;
  auto failing = []() -> task<result<int>> { co_return fail(error::refused); };
  auto main = [&]() -> task<result<int>> { co_return co_await with_timeout(s, 1s, failing()); };
  auto r = run(s, clock, main());
  CHECK(r.err() == error::refused);
}

TEST_CASE("dropping a join handle cancels, detach lets the task run", "[task]") {
  scheduler s;
  ManualClock clock;
  std::vector<int> log;
  auto main = [&]() -> task<void> {
    { auto h = spawn(s, sleeper(s, 5ms, log, 1)); }  // cancelled at once
    detach(s, sleeper(s, 5ms, log, 2));               // runs to its end
    co_await s.sleep_for(10ms);
  };
  auto r = run(s, clock, main());
  CHECK(r.ok());
  CHECK(log == std::vector<int>{2});
  CHECK(s.timer_count() == 0);
}

TEST_CASE("a joiner sees cancellation of the task it waits for", "[task]") {
  scheduler s;
  ManualClock clock;
  std::vector<int> log;
  auto main = [&]() -> task<int> {
    auto h = spawn(s, sleeper(s, 1s, log, 1));
    auto canceller = [&]() -> task<void> {
      co_await s.sleep_for(1ms);
      h.cancel();
    };
    auto c = spawn(s, canceller());
    auto r = co_await h.join();
    co_return r.err() == error::cancelled ? 1 : 0;
  };
  auto r = run(s, clock, main());
  REQUIRE(r.ok());
  CHECK(*r == 1);
  CHECK(log.empty());
}

TEST_CASE("a task spawned with a wait queue notifies it when it finishes, not when cancelled", "[task]") {
  scheduler s;
  ManualClock clock;
  wait_queue finished(s);
  std::vector<int> log;
  auto main = [&]() -> task<void> {
    auto h = spawn(s, sleeper(s, 5ms, log, 1), finished);
    const wake_reason first = co_await finished.wait();
    CHECK(first == wake_reason::notified);
    CHECK(s.now() == time_point{5ms});
    CHECK(h.done());  // done before the queue is notified
    CHECK(h.value().ok());
    auto c = spawn(s, sleeper(s, 5ms, log, 2), finished);
    co_await s.sleep_for(1ms);
    c.cancel();
    const wake_reason second = co_await finished.wait_for(10ms);
    CHECK(second == wake_reason::timed_out);  // cancelled: no notification
    detach(s, sleeper(s, 0ms, log, 3));  // plain spawn: nothing notified
    spawn(s, sleeper(s, 1ms, log, 4), finished).detach();
    const wake_reason third = co_await finished.wait_for(10ms);
    CHECK(third == wake_reason::notified);
    CHECK(s.now() == time_point{17ms});
  };
  CHECK(run(s, clock, main()).ok());
  CHECK(log == std::vector<int>{1, 3, 4});
  CHECK(s.timer_count() == 0);
}

TEST_CASE("wait queues wake waiters in order and time out", "[task]") {
  scheduler s;
  ManualClock clock;
  wait_queue q(s);
  std::vector<std::string> log;
  auto waiter_task = [&](std::string name) -> task<void> {
    auto why = co_await q.wait_until(s.now() + 50ms);
    log.push_back(name + (why == wake_reason::notified ? ":notified" : ":timeout"));
  };
  auto main = [&]() -> task<void> {
    auto a = spawn(s, waiter_task("a"));
    auto b = spawn(s, waiter_task("b"));
    auto c = spawn(s, waiter_task("c"));
    co_await s.sleep_for(10ms);
    CHECK(q.size() == 3);
    q.notify_one();
    co_await s.yield();
    q.notify_one();
    co_await a.join();
    co_await b.join();
    co_await c.join();
  };
  CHECK(run(s, clock, main()).ok());
  CHECK(log == std::vector<std::string>{"a:notified", "b:notified", "c:timeout"});
  CHECK(s.now() == time_point{50ms});
}

TEST_CASE("yield lets other ready tasks run first", "[task]") {
  scheduler s;
  ManualClock clock;
  std::vector<int> log;
  auto worker = [&](int id) -> task<void> {
    for (int i = 0; i < 3; ++i) {
      log.push_back(id);
      co_await s.yield();
    }
  };
  auto main = [&]() -> task<void> {
    auto a = spawn(s, worker(1));
    auto b = spawn(s, worker(2));
    co_await a.join();
    co_await b.join();
  };
  CHECK(run(s, clock, main()).ok());
  CHECK(log == std::vector<int>{1, 2, 1, 2, 1, 2});
}

TEST_CASE("coroutine frames are recycled by size class, a bounded number per class", "[task]") {
  using uni::detail::frame_cache;
  if (!UNI_FRAME_CACHE) {
    SUCCEED("sanitizer build: every frame comes from the heap");
    return;
  }
  // A freed frame is the next one handed out for any size of its class.
  void* a = frame_cache::take(200);
  frame_cache::give(a, 200);
  void* b = frame_cache::take(250);  // the same 64-byte class (193..256)
  CHECK(b == a);
  frame_cache::give(b, 250);
  void* c = frame_cache::take(100);  // another class: not that frame
  CHECK(c != a);
  frame_cache::give(c, 100);
  // At most max_kept per class are held: giving back more frees the rest.
  std::vector<void*> many;
  for (std::size_t i = 0; i < frame_cache::max_kept + 8; ++i) many.push_back(frame_cache::take(900));
  for (void* p : many) frame_cache::give(p, 900);
  std::vector<void*> again;
  for (std::size_t i = 0; i < frame_cache::max_kept + 8; ++i) again.push_back(frame_cache::take(900));
  std::size_t reused = 0;
  for (void* p : again) reused += std::find(many.begin(), many.end(), p) != many.end();
  CHECK(reused >= frame_cache::max_kept);
  for (void* p : again) frame_cache::give(p, 900);
  // Frames beyond the largest class come from the heap and go back to it.
  void* big = frame_cache::take(4096);
  frame_cache::give(big, 4096);
  // Tasks use it: the frame of a finished task is the next task's.
  auto one = []() -> uni::task<int> { co_return 1; };
  void* first = nullptr;
  void* second = nullptr;
  {
    auto t = one();
    first = t.release().address();
    std::coroutine_handle<>::from_address(first).destroy();
  }
  {
    auto t = one();
    second = t.release().address();
    std::coroutine_handle<>::from_address(second).destroy();
  }
  CHECK(first == second);
}

// What the tests of serving until stopped share: a service that sleeps, logs
// its status and returns it; a stop request that is a flag (its check counted,
// and logging -1 when it finds the flag set); a report that is counted.
struct stopping {
  scheduler s;
  ManualClock clock;
  std::vector<int> log;
  int reports = 0;
  int checks = 0;
  bool stop_asked = false;
  wait_queue changed{s};

  task<int> service(duration d, int status) {
    co_await s.sleep_for(d);
    log.push_back(status);
    co_return status;
  }
  struct asked_fn {
    stopping& f;
    bool operator()(std::string_view) const {
      ++f.checks;
      if (f.stop_asked) f.log.push_back(-1);
      return f.stop_asked;
    }
  } asked{*this};
  struct report_fn {
    stopping& f;
    void operator()() const { ++f.reports; }
  } report{*this};
  stop_request request() { return {changed, asked}; }
};

TEST_CASE("serve_until_stopped: the service's status if it ends first, else 0 and the service cancelled",
          "[task]") {
  stopping f;
  scheduler& s = f.s;
  // The queue is notified when the stop may have changed (once for nothing
  // first: a wake-up alone is not a stop).
  auto stop_after = [&](duration d) -> task<void> {
    co_await s.sleep_for(d / 2);
    f.changed.notify_all();
    co_await s.sleep_for(d / 2);
    f.stop_asked = true;
    f.changed.notify_all();
  };
  {
    auto stopper = spawn(s, stop_after(1s));
    auto ended = run(s, f.clock, serve_until_stopped(s, "test", f.service(1ms, 3), f.request(), f.report));
    REQUIRE(ended.ok());
    CHECK(*ended == 3);
    CHECK(f.log == std::vector<int>{3});
    CHECK(f.checks == 1);
  }
  f.log.clear();
  f.checks = 0;
  {
    auto stopper = spawn(s, stop_after(2ms));
    auto stopped = run(s, f.clock, serve_until_stopped(s, "test", f.service(1s, 3), f.request(), f.report));
    REQUIRE(stopped.ok());
    CHECK(*stopped == 0);
    CHECK(f.log == std::vector<int>{-1});
    CHECK(f.checks == 3);
  }
  CHECK(f.changed.empty());
  CHECK(f.reports == 2);
  CHECK(s.timer_count() == 0);
  // Asked for before the service first runs: it is cancelled unstarted.
  f.log.clear();
  auto at_once = run(s, f.clock, serve_until_stopped(s, "test", f.service(1ms, 3), f.request(), f.report));
  REQUIRE(at_once.ok());
  CHECK(*at_once == 0);
  CHECK(f.log == std::vector<int>{-1});
  CHECK(f.reports == 3);
}

TEST_CASE("run_until_stopped: the run loop itself, with the same ends as serve_until_stopped", "[task]") {
  stopping f;
  scheduler& s = f.s;
  // No queue is waited on here: the request is checked at every turn.
  auto stop_after = [&](duration d) -> task<void> {
    co_await s.sleep_for(d);
    f.stop_asked = true;
  };
  {
    // The service ends first: its status, the stopper left to its owner.
    auto stopper = spawn(s, stop_after(1s));
    CHECK(run_until_stopped(s, f.clock, "test", f.service(1ms, 3), f.request(), f.report) == 3);
    CHECK(f.log == std::vector<int>{3});
    CHECK(f.clock.now() == time_point{} + 1ms);
  }
  f.log.clear();
  {
    // Stopped first: 0, and the service cancelled (it never logs).
    auto stopper = spawn(s, stop_after(2ms));
    CHECK(run_until_stopped(s, f.clock, "test", f.service(1s, 3), f.request(), f.report) == 0);
    CHECK(f.log == std::vector<int>{-1});
  }
  CHECK(f.reports == 2);
  CHECK(s.timer_count() == 0);
  // A status other than 0 is the appliance's.
  f.stop_asked = false;
  CHECK(run_until_stopped(s, f.clock, "test", f.service(1ms, 7), f.request(), f.report) == 7);
  // Asked for before the service first runs: it is cancelled unstarted.
  f.log.clear();
  f.stop_asked = true;
  CHECK(run_until_stopped(s, f.clock, "test", f.service(1ms, 3), f.request(), f.report) == 0);
  CHECK(f.log == std::vector<int>{-1});
  CHECK(f.reports == 4);
}
