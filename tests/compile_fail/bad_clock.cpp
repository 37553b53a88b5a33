// Must NOT compile: run() with a clock that has no wait_until().
#include <uni/core/run.hpp>

struct not_a_clock {
  uni::time_point now() const noexcept { return {}; }
};

uni::task<int> app() { co_return 0; }

int main() {
  uni::scheduler sched;
  not_a_clock clock;
  return *uni::run(sched, clock, app());
}
